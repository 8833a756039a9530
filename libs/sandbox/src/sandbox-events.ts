import { Injectable, Logger } from '@nestjs/common';
import { describeError } from '@app/domain';
import type { HistoryEntry } from './sandbox.machine';

/** One committed transition of one sandbox: a history entry, once it is in the store. */
export interface SandboxEvent extends HistoryEntry {
  sandboxId: string;
}

export type SandboxEventListener = (event: SandboxEvent) => void;

/**
 * In-process publisher of committed lifecycle transitions. SandboxCommands publishes a transition
 * only after the write that recorded it, so a listener never sees one the store does not hold.
 * Listeners run synchronously and must not throw; one that does is logged, never the command's
 * problem. Webhooks and metrics build on this.
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
