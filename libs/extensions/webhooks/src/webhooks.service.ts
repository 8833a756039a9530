import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { CodedError } from '@app/domain';
import type { Actor } from '@app/extension-api';
import { DeliveryView, WebhookInfo, WebhookScope, WebhookStore } from '@app/meta-store';
import { DeliveryWorker } from './delivery-worker';
import { WebhookPolicy } from './webhook-policy';
import { checkWebhookUrl, Resolver, systemResolver } from './webhook-url';
import { newWebhookSecret } from './webhook-signing';
import type { CreateWebhookDto } from './webhook.dto';

/** The webhooks API: registration (validated URL, a new secret), listing, removal, tests. */
@Injectable()
export class WebhooksService {
  /** Replaced by tests that resolve names without DNS. */
  resolve: Resolver = systemResolver;

  constructor(
    private readonly store: WebhookStore,
    private readonly worker: DeliveryWorker,
    private readonly policy: WebhookPolicy,
  ) {}

  /** 201's body: the webhook and its secret, shown this once. */
  async create(input: CreateWebhookDto, actor: Actor): Promise<WebhookInfo & { secret: string }> {
    this.assertEnabled();
    const url = await checkWebhookUrl(input.url, this.policy.allowPrivate, this.resolve);
    const secret = newWebhookSecret();
    const info = await this.store.create({
      id: `wh_${randomBytes(12).toString('hex')}`,
      url: url.href,
      events: input.events === undefined ? null : [...new Set(input.events)],
      description: input.description ?? null,
      // A tenant key's webhook receives its tenant's events only.
      tenant: actor.kind === 'tenant' ? actor.tenant : null,
      secret,
    });
    return { ...info, secret };
  }

  list(actor: Actor): Promise<WebhookInfo[]> {
    this.assertEnabled();
    return this.store.list(scopeOf(actor));
  }

  delete(id: string, actor: Actor): Promise<void> {
    this.assertEnabled();
    return this.store.delete(id, scopeOf(actor));
  }

  /** Queues a `webhook.test` delivery, signed and retried like any other; answers its id. */
  async test(id: string, actor: Actor): Promise<{ deliveryId: string }> {
    this.assertEnabled();
    const webhook = await this.store.get(id, scopeOf(actor));
    const now = new Date().toISOString();
    const body = JSON.stringify({
      type: 'webhook.test',
      timestamp: now,
      data: { webhookId: webhook.id },
    });
    const deliveryId = await this.store.enqueue(webhook.id, 'webhook.test', body);
    this.worker.wake();
    return { deliveryId };
  }

  deliveries(id: string, limit: number, actor: Actor): Promise<DeliveryView[]> {
    this.assertEnabled();
    return this.store.deliveries(id, limit, scopeOf(actor));
  }

  private assertEnabled(): void {
    if (!this.policy.enabled) {
      throw new CodedError(
        'ROUTE_NOT_FOUND',
        'webhooks are not enabled here (add webhooks to EXTENSIONS)',
        {},
      );
    }
  }
}

function scopeOf(actor: Actor): WebhookScope {
  return actor.kind === 'tenant' && actor.tenant !== null ? { tenant: actor.tenant } : {};
}
