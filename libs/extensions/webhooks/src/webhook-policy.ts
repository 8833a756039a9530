import { Injectable } from '@nestjs/common';
import { AuthConfig, EventsConfig } from '@app/config';

/** The webhooks extension's name in EXTENSIONS and the registry. */
export const WEBHOOKS_EXTENSION = 'webhooks';

/**
 * The webhook settings as the extension applies them. Private addresses: WEBHOOK_ALLOW_PRIVATE
 * when set; otherwise allowed only while auth is off (no ADMIN_API_KEY), so that with auth on a
 * tenant cannot make sandboxd probe the internal network.
 */
@Injectable()
export class WebhookPolicy {
  readonly enabled: boolean;
  readonly allowPrivate: boolean;
  readonly timeoutMs: number;
  readonly retryScheduleMs: readonly number[];
  /** A claim outlives its attempt's timeout by this much before another replica may retry it. */
  readonly leaseMs: number;

  constructor(config: EventsConfig, auth: AuthConfig) {
    this.enabled = config.extensions.includes(WEBHOOKS_EXTENSION);
    this.allowPrivate = config.webhookAllowPrivate ?? auth.adminApiKey === null;
    this.timeoutMs = config.webhookTimeoutMs;
    this.retryScheduleMs = config.webhookRetryScheduleMs;
    this.leaseMs = config.webhookTimeoutMs + 30_000;
  }
}
