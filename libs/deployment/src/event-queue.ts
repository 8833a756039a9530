/** Flow control of an EventQueue: told when the queued items weigh too much, and when less. */
export interface QueueFlow<T> {
  /** The weight of one item (bytes of output, say). */
  weigh(item: T): number;
  /** Past this the producer is asked to pause; it is asked to resume once half of it is left. */
  highWaterMark: number;
  pause(): void;
  resume(): void;
}

/**
 * A minimal push-to-pull queue: producers push as data arrives, one consumer pulls with
 * `for await`. With a flow, a producer faster than the consumer is paused past the high-water
 * mark, so the queue holds a bounded amount however slow the consumer (exec output streamed to a
 * slow client); without one it is unbounded.
 */
export class EventQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiter: (() => void) | null = null;
  private ended = false;
  private failure: { error: unknown } | null = null;
  private weight = 0;
  private paused = false;

  constructor(private readonly flow?: QueueFlow<T>) {}

  /** The weight of the items queued now (0 without a flow). */
  get queuedWeight(): number {
    return this.weight;
  }

  push(item: T): void {
    if (this.ended) return;
    this.items.push(item);
    if (this.flow) {
      this.weight += this.flow.weigh(item);
      if (!this.paused && this.weight > this.flow.highWaterMark) {
        this.paused = true;
        this.flow.pause();
      }
    }
    this.wake();
  }

  /** No more items; the consumer finishes once it has taken the queued ones. */
  end(): void {
    this.ended = true;
    this.wake();
  }

  /** The consumer throws `error` after taking the queued items. */
  fail(error: unknown): void {
    if (this.ended) return;
    this.failure = { error };
    this.end();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        this.taken(item);
        yield item;
        continue;
      }
      if (this.ended) {
        if (this.failure) throw this.failure.error;
        return;
      }
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  private taken(item: T): void {
    if (!this.flow) return;
    this.weight -= this.flow.weigh(item);
    if (this.paused && this.weight <= this.flow.highWaterMark / 2) {
      this.paused = false;
      this.flow.resume();
    }
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }
}
