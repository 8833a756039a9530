import { EventQueue } from './event-queue';

async function drain<T>(queue: EventQueue<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of queue) items.push(item);
  return items;
}

describe('EventQueue', () => {
  it('delivers items pushed before and while the consumer waits, then ends', async () => {
    const queue = new EventQueue<number>();
    queue.push(1);
    const consumed = drain(queue);
    await Promise.resolve();
    queue.push(2);
    setTimeout(() => {
      queue.push(3);
      queue.end();
      queue.push(4);
    }, 5);
    expect(await consumed).toEqual([1, 2, 3]);
  });

  it('throws the failure after the queued items', async () => {
    const queue = new EventQueue<string>();
    queue.push('a');
    queue.fail(new Error('boom'));
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const item of queue) seen.push(item);
      })(),
    ).rejects.toThrow('boom');
    expect(seen).toEqual(['a']);
  });
});

describe('EventQueue with a flow', () => {
  it('pauses the producer past the high-water mark and resumes it once half is taken', async () => {
    const calls: string[] = [];
    const queue = new EventQueue<Buffer>({
      weigh: (item) => item.length,
      highWaterMark: 10,
      pause: () => calls.push('pause'),
      resume: () => calls.push('resume'),
    });
    queue.push(Buffer.alloc(4));
    queue.push(Buffer.alloc(4));
    expect(calls).toEqual([]);
    queue.push(Buffer.alloc(4));
    expect(calls).toEqual(['pause']);
    expect(queue.queuedWeight).toBe(12);
    queue.end();
    const iterator = queue[Symbol.asyncIterator]();
    await iterator.next();
    expect(calls).toEqual(['pause']);
    await iterator.next();
    expect(calls).toEqual(['pause', 'resume']);
    await iterator.next();
    expect((await iterator.next()).done).toBe(true);
    expect(queue.queuedWeight).toBe(0);
  });
});
