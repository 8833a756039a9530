/**
 * First-come-first-served turns per key among the callers of one process. Waiters for a lock
 * held in this process queue here instead of polling the store: each is handed the turn the
 * moment the previous one ends, instead of after its next backoff sleep (up to 250 ms), which
 * left a busy lock idle between holders (e.g. a burst of commands on one sandbox).
 */
export class LocalTurns {
  private readonly tails = new Map<string, Promise<void>>();

  /**
   * Waits until every earlier caller for `key` has released its turn, at most `waitMs`.
   * @returns the release function (call it exactly once, also on failure), or null on timeout.
   */
  async take(key: string, waitMs: number): Promise<(() => void) | null> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The next caller waits for everyone before it, including those that gave up waiting.
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    // Forget the key once everyone up to this caller is done and nobody queued after it.
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });

    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), waitMs);
    });
    try {
      const late = await Promise.race([previous.then(() => false), timedOut]);
      if (!late) return release;
      // Given up: those after this caller only wait for the ones before it.
      release();
      return null;
    } finally {
      clearTimeout(timer);
    }
  }
}
