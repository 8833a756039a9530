import type { ExecEvent } from '@app/sandbox';

/** What a stream of one process yields: its output, then its end. */
export type ProcessOutput =
  | { type: 'stdout' | 'stderr'; data: Buffer }
  | { type: 'end'; exitCode: number | null; timedOut: boolean; truncated: boolean };

/** The end of a stream that broke off: the process's end is not known. */
const LOST: ProcessOutput = { type: 'end', exitCode: null, timedOut: false, truncated: false };

/**
 * Bytes a reader may have queued before the pump waits for it (until it has taken half): a client
 * that does not read holds back its own command, as a native exec stream does, not memory.
 */
export const HIGH_WATER_BYTES = 1024 * 1024;

/** One consumer's queue of a live process's output. */
export class Subscription implements AsyncIterable<ProcessOutput> {
  private readonly queue: ProcessOutput[] = [];
  private queuedBytes = 0;
  private wake: (() => void) | null = null;
  private drained: (() => void) | null = null;
  private closed = false;

  constructor(private readonly onClose: () => void) {}

  push(event: ProcessOutput): void {
    if (this.closed) return;
    this.queue.push(event);
    if (event.type !== 'end') this.queuedBytes += event.data.length;
    this.wake?.();
  }

  /** Resolves once this reader has room again (at once if it has, or once it is gone). */
  room(): Promise<void> {
    if (this.closed || this.queuedBytes < HIGH_WATER_BYTES) return Promise.resolve();
    return new Promise((resolve) => (this.drained = resolve));
  }

  private release(): void {
    const drained = this.drained;
    this.drained = null;
    drained?.();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    this.release();
    this.onClose();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ProcessOutput> {
    try {
      for (;;) {
        const next = this.queue.shift();
        if (next) {
          if (next.type !== 'end') this.queuedBytes -= next.data.length;
          if (this.queuedBytes < HIGH_WATER_BYTES / 2) this.release();
          yield next;
          if (next.type === 'end') return;
          continue;
        }
        if (this.closed) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
      }
    } finally {
      this.close();
    }
  }
}

/**
 * The processes whose exec this API process is pumping, by sandbox and pid, so Connect on this
 * replica reattaches to their live output. A client that goes away stops reading; the pump goes on
 * to the end, so the process keeps running as on E2B. A reader that is there but slow holds the
 * pump back (HIGH_WATER_BYTES), and with it the exec's own backpressure.
 */
export class LiveProcesses {
  private readonly live = new Map<string, Set<Subscription>>();

  /**
   * Pumps `events` (the pid line already taken) to every subscriber; returns the first one, with
   * `pending` (output read along with the pid line) already in it.
   */
  pump(
    sandboxId: string,
    pid: number,
    events: AsyncIterator<ExecEvent>,
    pending: ProcessOutput[],
  ): Subscription {
    const key = `${sandboxId}:${pid}`;
    const subscribers = new Set<Subscription>();
    const first = new Subscription(() => subscribers.delete(first));
    subscribers.add(first);
    for (const event of pending) first.push(event);
    this.live.set(key, subscribers);
    const run = async () => {
      try {
        for (;;) {
          const next = await events.next();
          if (next.done) break;
          const event = next.value;
          const out: ProcessOutput =
            event.type === 'exit'
              ? {
                  type: 'end',
                  exitCode: event.exitCode,
                  timedOut: event.timedOut,
                  truncated: event.truncated,
                }
              : { type: event.type, data: event.data };
          for (const s of subscribers) s.push(out);
          if (out.type === 'end') return;
          await Promise.all([...subscribers].map((s) => s.room()));
        }
        for (const s of subscribers) s.push(LOST);
      } catch {
        for (const s of subscribers) s.push(LOST);
      } finally {
        this.live.delete(key);
        for (const s of [...subscribers]) s.close();
      }
    };
    void run();
    return first;
  }

  /** A new reader of a process pumped here, or null. */
  subscribe(sandboxId: string, pid: number): Subscription | null {
    const subscribers = this.live.get(`${sandboxId}:${pid}`);
    if (!subscribers) return null;
    const subscription = new Subscription(() => subscribers.delete(subscription));
    subscribers.add(subscription);
    return subscription;
  }
}
