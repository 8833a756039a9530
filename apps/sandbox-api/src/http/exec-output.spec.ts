import type { ExecEvent } from '@app/sandbox';
import { EventEmitter } from 'node:events';
import type { Response } from 'express';
import { encodeExecEvents, pacedToClient } from './exec-output';

async function collect(events: ExecEvent[], encoding: 'utf8' | 'base64'): Promise<ExecEvent[]> {
  async function* source(): AsyncGenerator<ExecEvent> {
    for (const event of events) yield await Promise.resolve(event);
  }
  const out: ExecEvent[] = [];
  for await (const event of encodeExecEvents(source(), encoding)) out.push(event);
  return out;
}

const exit: ExecEvent = {
  type: 'exit',
  exitCode: 0,
  timedOut: false,
  truncated: false,
  durationMs: 1,
};

describe('encodeExecEvents', () => {
  it('keeps a character split across chunks whole, per stream', async () => {
    const out = await collect(
      [
        { type: 'stdout', data: Buffer.from([0x68, 0xc3]) },
        { type: 'stderr', data: Buffer.from([0xe2, 0x82]) },
        { type: 'stdout', data: Buffer.from([0xa9]) },
        { type: 'stderr', data: Buffer.from([0xac]) },
        exit,
      ],
      'utf8',
    );
    const text = (type: string) =>
      out
        .filter((e) => e.type === type)
        .map((e) => (e.type === 'exit' ? '' : e.data.toString('utf8')))
        .join('');
    expect(text('stdout')).toBe('hé');
    expect(text('stderr')).toBe('€');
    expect(out.at(-1)).toBe(exit);
  });

  it('flushes a character cut off by the end as U+FFFD before the exit event', async () => {
    const out = await collect([{ type: 'stdout', data: Buffer.from([0xc3]) }, exit], 'utf8');
    expect(out.map((e) => (e.type === 'exit' ? 'exit' : e.data.toString('utf8')))).toEqual([
      '\ufffd',
      'exit',
    ]);
  });

  it('gives each chunk as its own base64 text', async () => {
    const bytes = Buffer.from([0, 255, 0xc3, 10]);
    const out = await collect([{ type: 'stdout', data: bytes }, exit], 'base64');
    const first = out[0];
    expect(first.type).toBe('stdout');
    if (first.type === 'exit') throw new Error('unexpected');
    expect(Buffer.from(first.data.toString('utf8'), 'base64')).toEqual(bytes);
  });
});

describe('pacedToClient', () => {
  it('takes the next event only once the client has drained what was written', async () => {
    const res = Object.assign(new EventEmitter(), { writableNeedDrain: false, destroyed: false });
    let pulled = 0;
    async function* source(): AsyncGenerator<ExecEvent> {
      for (let i = 0; i < 3; i += 1) {
        pulled += 1;
        yield await Promise.resolve<ExecEvent>({ type: 'stdout', data: Buffer.from([i]) });
      }
    }
    const paced = pacedToClient(source(), res as unknown as Response);
    expect((await paced.next()).value).toMatchObject({ data: Buffer.from([0]) });
    res.writableNeedDrain = true;
    const next = paced.next();
    await new Promise((resolve) => setImmediate(resolve));
    // The second event was read from the exec, but is held until the client takes more.
    let settled = false;
    void next.then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    expect(pulled).toBe(2);
    res.writableNeedDrain = false;
    res.emit('drain');
    expect((await next).value).toMatchObject({ data: Buffer.from([1]) });
    expect(pulled).toBe(2);
  });
});
