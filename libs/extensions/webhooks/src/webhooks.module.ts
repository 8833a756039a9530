import { Module } from '@nestjs/common';
import { defineExtension } from '@app/extension-api';
import { MetaStoreModule } from '@app/meta-store';
import { DeliveryWorker } from './delivery-worker';
import { WakeOnCommit } from './wake-on-commit.subscriber';
import { WebhookPolicy, WEBHOOKS_EXTENSION } from './webhook-policy';
import { WebhooksController } from './webhooks.controller';
import { WebhooksService } from './webhooks.service';

/** Signed webhooks fed from the event log: /v1/webhooks and the delivery worker. */
@Module({
  imports: [MetaStoreModule],
  controllers: [WebhooksController],
  providers: [DeliveryWorker, WakeOnCommit, WebhookPolicy, WebhooksService],
  exports: [WebhooksService, DeliveryWorker],
})
export class WebhooksModule {}

export const webhooksExtension = defineExtension({
  name: WEBHOOKS_EXTENSION,
  module: WebhooksModule,
  subscribers: [WakeOnCommit],
});
