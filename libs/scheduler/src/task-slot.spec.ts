import { slotKey, slotOf } from './task-slot';

describe('slotOf', () => {
  it('should put every moment of one interval in the same slot', () => {
    expect(slotOf(10_000, 10_000)).toBe(1);
    expect(slotOf(19_999, 10_000)).toBe(1);
    expect(slotOf(20_000, 10_000)).toBe(2);
    expect(slotKey('auto-stop', 2)).toBe('task:auto-stop:slot:2');
  });
});
