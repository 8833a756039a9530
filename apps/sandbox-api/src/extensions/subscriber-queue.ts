import { Logger } from '@nestjs/common';
import { describeError } from '@app/domain';
import type { EventSubscriber, SandboxEventRecord } from '@app/extension-api';

/** Events one subscriber may fall behind by; past it the oldest are dropped (and counted). */
export const SUBSCRIBER_QUEUE_LIMIT = 10_000;

/**
 * One subscriber's own queue: `push` returns at once (a command never waits for a subscriber),
 * the events are handed over one at a time, in order, on a later turn of the event loop, and
 * whatever the subscriber throws or rejects with is logged, never anyone else's failure. A
 * subscriber that cannot keep up loses its oldest events, not the process's memory.
 */
export class SubscriberQueue {
  private readonly logger: Logger;
  private readonly queue: SandboxEventRecord[] = [];
  private draining = false;
  private dropped = 0;

  constructor(
    private readonly subscriber: EventSubscriber,
    name: string,
    private readonly limit = SUBSCRIBER_QUEUE_LIMIT,
  ) {
    this.logger = new Logger(`extension ${name}`);
  }

  push(event: SandboxEventRecord): void {
    if (this.queue.length >= this.limit) {
      this.queue.shift();
      this.dropped += 1;
    }
    this.queue.push(event);
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => void this.drain());
    }
  }

  /** Resolves once every event pushed so far was handed over (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.draining) await new Promise((resolve) => setImmediate(resolve));
  }

  private async drain(): Promise<void> {
    try {
      for (let event = this.queue.shift(); event; event = this.queue.shift()) {
        try {
          await this.subscriber.onEvent(event);
        } catch (error) {
          this.logger.warn(`subscriber failed on event ${event.id}: ${describeError(error)}`);
        }
      }
      if (this.dropped > 0) {
        this.logger.warn(`subscriber fell behind: ${this.dropped} event(s) dropped`);
        this.dropped = 0;
      }
    } finally {
      this.draining = false;
    }
  }
}
