import { settleBounded } from './bounded';

describe('settleBounded', () => {
  it('should never run more than the limit at once and settle every item', async () => {
    let inFlight = 0;
    let peak = 0;
    const results = await settleBounded([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight -= 1;
      if (n === 4) throw new Error('four');
      return n * 2;
    });
    expect(peak).toBe(3);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'x'))).toEqual([
      2,
      4,
      6,
      'x',
      10,
      12,
      14,
    ]);
  });

  it('should do nothing for no items', async () => {
    expect(await settleBounded([], 4, () => Promise.resolve(1))).toEqual([]);
  });
});
