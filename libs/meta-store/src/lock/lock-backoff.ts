const FIRST_DELAY_MS = 20;
const MAX_DELAY_MS = 250;

/**
 * Delay before the next attempt to take a held lock: grows geometrically so a long wait costs few
 * round trips, with jitter so waiters on several instances do not retry in lockstep, and never
 * past the caller's deadline.
 */
export function nextLockDelay(attempt: number, remainingMs: number, random = Math.random): number {
  const base = Math.min(FIRST_DELAY_MS * 1.5 ** attempt, MAX_DELAY_MS);
  const jittered = base / 2 + random() * (base / 2);
  return Math.max(0, Math.min(Math.round(jittered), remainingMs));
}
