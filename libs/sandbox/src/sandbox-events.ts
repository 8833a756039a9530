import { Injectable, Logger } from '@nestjs/common';
import { describeError, SandboxEventRecord } from '@app/domain';

/**
 * One committed lifecycle event, as the event log holds it (with its id): published only after
 * the transaction that wrote it and the change it records.
 */
export type SandboxEvent = SandboxEventRecord;

export type SandboxEventListener = (event: SandboxEvent) => void;

/**
 * In-process publisher of the lifecycle events this process commits. SandboxCommands (and a
 * create's insert) publish an event only after the write that recorded it, so a listener never
 * sees one the store does not hold. Listeners run synchronously and must not throw; one that does
 * is logged, never the command's problem. Extensions' subscribers are fed from here, each through
 * its own queue (SubscriberQueue); the durable consumers (webhooks, GET /v1/events) read the log.
 */
@Injectable()
export class SandboxEvents {
  private readonly logger = new Logger(SandboxEvents.name);
  private readonly listeners = new Set<SandboxEventListener>();

  /** Returns the unsubscribe function. */
  subscribe(listener: SandboxEventListener): () => void {
    this.listeners.add(listener);
    return () => this.unsubscribe(listener);
  }

  unsubscribe(listener: SandboxEventListener): void {
    this.listeners.delete(listener);
  }

  publish(event: SandboxEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.warn(
          `a listener of ${event.sandboxId}'s events threw: ${describeError(error)}`,
        );
      }
    }
  }
}
