/**
 * Redis rejects a non-positive or fractional PX, so both stores validate the same way and round up
 * (a TTL must never end sooner than asked).
 */
export function normalizeTtl(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`TTL must be a positive number of milliseconds, got ${ttlMs}`);
  }
  return Math.ceil(ttlMs);
}
