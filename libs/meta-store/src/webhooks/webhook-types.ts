import type { SandboxEventType } from '@app/domain';

/** A webhook endpoint as the API shows it: never its secret. */
export interface WebhookInfo {
  id: string;
  url: string;
  /** The event types it receives; null for all. */
  events: SandboxEventType[] | null;
  description: string | null;
  /** The tenant whose events it receives; null: every event. */
  tenant: string | null;
  createdAt: string;
}

export interface NewWebhook {
  id: string;
  url: string;
  events: SandboxEventType[] | null;
  description: string | null;
  tenant: string | null;
  /** In clear: the store seals it. */
  secret: string;
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

/** One delivery a worker has claimed: what to send, and the lease it holds. */
export interface ClaimedDelivery {
  id: number;
  webhookId: string;
  /** The webhook's URL and secret, as they are at the claim. */
  url: string;
  secret: string;
  eventId: number | null;
  eventType: string;
  payload: string;
  /** The number of this attempt (1 for the first). */
  attempt: number;
  createdAt: number;
  leaseToken: string;
}

/** How one attempt ended. */
export interface AttemptOutcome {
  at: number;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  /** The delivery's state after it: done, failed for good, or pending again at `nextAttemptAt`. */
  status: DeliveryStatus;
  nextAttemptAt: number | null;
}

export interface AttemptView {
  attempt: number;
  at: string;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

export interface DeliveryView {
  id: string;
  eventId: string | null;
  eventType: string;
  status: DeliveryStatus;
  attempts: AttemptView[];
  nextAttemptAt: string | null;
  createdAt: string;
}
