import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** A new secret in the Standard Webhooks form: `whsec_` and 24 random bytes in base64. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/**
 * The Standard Webhooks headers of one message: `webhook-id` (the same on every retry, so a
 * receiver drops duplicates by it), `webhook-timestamp` (seconds) and `webhook-signature`
 * (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`), made by the specification's own library.
 */
export function signedHeaders(
  secret: string,
  messageId: string,
  body: string,
  at: Date,
): Record<string, string> {
  const signature = new Webhook(secret).sign(messageId, at, body);
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signature,
  };
}

/** The body of an event's delivery: Standard Webhooks' `{type, timestamp, data}`. */
export function eventBody(row: { id: number; payload: string }): string {
  const event = JSON.parse(row.payload) as { type: string; at: string };
  return JSON.stringify({
    type: event.type,
    timestamp: event.at,
    data: { id: String(row.id), ...event },
  });
}

/** The message id of a delivery: the event's (stable across retries), or the test's own. */
export function messageIdOf(delivery: { id: number; eventId: number | null }): string {
  return delivery.eventId === null ? `msg_test_${delivery.id}` : `msg_evt_${delivery.eventId}`;
}
