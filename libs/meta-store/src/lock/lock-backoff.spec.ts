import { nextLockDelay } from './lock-backoff';

describe('nextLockDelay', () => {
  it('grows with the attempt and is capped', () => {
    const max = (attempt: number): number => nextLockDelay(attempt, 10_000, () => 1);
    expect(max(0)).toBe(20);
    expect(max(3)).toBeGreaterThan(max(1));
    expect(max(50)).toBe(250);
  });

  it('jitters between half and the full delay', () => {
    expect(nextLockDelay(50, 10_000, () => 0)).toBe(125);
  });

  it('never sleeps past the deadline', () => {
    expect(nextLockDelay(50, 30, () => 1)).toBe(30);
    expect(nextLockDelay(50, 0, () => 1)).toBe(0);
  });
});
