/**
 * When a failed attempt is tried again: the schedule's wait for this attempt (the first retry
 * waits schedule[0]), stretched by up to 10% so receivers that came back are not hit by every
 * backlog at the same instant; null once the schedule is used up (the delivery has failed).
 */
export function nextAttemptAt(
  schedule: readonly number[],
  attempt: number,
  now: number,
  random: () => number = Math.random,
): number | null {
  const wait = schedule[attempt - 1];
  if (wait === undefined) return null;
  return now + Math.round(wait * (1 + 0.1 * random()));
}
