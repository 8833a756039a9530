import type { SandboxEventRecord } from '@app/domain';

/**
 * Receives the lifecycle events this process commits, after their transaction, asynchronously:
 * each subscriber has its own bounded queue, so a slow one never delays a command or another
 * subscriber, and what it throws (or rejects with) is logged and forgotten, never a command's
 * failure. Delivery is at most once and in order per process; a consumer that must see every
 * event, across restarts and replicas, reads the log (GET /v1/events) or takes a webhook.
 */
export interface EventSubscriber {
  onEvent(event: SandboxEventRecord): void | Promise<void>;
}
