import { Injectable } from '@nestjs/common';
import { EventsConfig } from '@app/config';

/** The webhooks extension's name in EXTENSIONS and the registry. */
export const WEBHOOKS_EXTENSION = 'webhooks';

/**
 * The webhook settings as the extension applies them. Private addresses: WEBHOOK_ALLOW_PRIVATE
 * when set; otherwise allowed only while auth is off, i.e. no ADMIN_API_KEY (issue 12's switch,
 * read from the environment until its configuration slice exists), so that with auth on a
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

  constructor(config: EventsConfig) {
    this.enabled = config.extensions.includes(WEBHOOKS_EXTENSION);
    const authOn = (process.env.ADMIN_API_KEY ?? '') !== '';
    this.allowPrivate = config.webhookAllowPrivate ?? !authOn;
    this.timeoutMs = config.webhookTimeoutMs;
    this.retryScheduleMs = config.webhookRetryScheduleMs;
    this.leaseMs = config.webhookTimeoutMs + 30_000;
  }
}
