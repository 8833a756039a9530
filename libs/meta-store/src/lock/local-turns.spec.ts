import { LocalTurns } from './local-turns';

describe(LocalTurns.name, () => {
  it('hands out turns one at a time, first come first served', async () => {
    const turns = new LocalTurns();
    const order: string[] = [];
    const work = async (name: string, ms: number) => {
      const release = await turns.take('k', 1000);
      if (!release) throw new Error('timed out');
      order.push(`${name}+`);
      await new Promise((resolve) => setTimeout(resolve, ms));
      order.push(`${name}-`);
      release();
    };
    await Promise.all([work('a', 20), work('b', 5), work('c', 1)]);
    expect(order).toEqual(['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
  });

  it('keeps keys apart', async () => {
    const turns = new LocalTurns();
    const first = await turns.take('a', 1000);
    const other = await turns.take('b', 10);
    expect(other).not.toBeNull();
    first!();
    other!();
  });

  it('gives up after the wait, and the next caller still waits for the holder', async () => {
    const turns = new LocalTurns();
    const holder = await turns.take('k', 1000);
    expect(await turns.take('k', 20)).toBeNull();
    let third = false;
    const waiting = turns.take('k', 1000).then((release) => {
      third = true;
      release!();
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(third).toBe(false);
    holder!();
    await waiting;
    expect(third).toBe(true);
    // All released: a new caller gets the turn at once.
    const again = await turns.take('k', 0);
    expect(again).not.toBeNull();
  });
});
