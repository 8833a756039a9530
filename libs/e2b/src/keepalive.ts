/** The SDK's default (`Keepalive-Ping-Interval: 50`, seconds); envd sends a keepalive event that often. */
const DEFAULT_INTERVAL_SECONDS = 50;
const MIN_INTERVAL_SECONDS = 1;

/** The interval a caller asked for in Keepalive-Ping-Interval, in ms. */
export function keepaliveIntervalMs(header: string | null): number {
  const seconds = Number(header ?? DEFAULT_INTERVAL_SECONDS);
  const chosen = Number.isFinite(seconds) && seconds > 0 ? seconds : DEFAULT_INTERVAL_SECONDS;
  return Math.max(MIN_INTERVAL_SECONDS, chosen) * 1000;
}

/**
 * The items of `source`, with `'keepalive'` in between whenever none came for `intervalMs`: a
 * silent command still sends bytes, so no client or proxy read timeout ends its stream.
 */
export async function* withKeepalive<T>(
  source: AsyncIterable<T>,
  intervalMs: number,
): AsyncGenerator<T | 'keepalive'> {
  const iterator = source[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<T>> | null = null;
  try {
    for (;;) {
      pending ??= iterator.next();
      let timer: NodeJS.Timeout | undefined;
      const tick = new Promise<'keepalive'>((resolve) => {
        timer = setTimeout(() => resolve('keepalive'), intervalMs);
      });
      const next = await Promise.race([pending, tick]);
      clearTimeout(timer);
      if (next === 'keepalive') {
        yield 'keepalive';
        continue;
      }
      pending = null;
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await iterator.return?.();
  }
}
