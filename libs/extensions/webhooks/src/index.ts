export { webhooksExtension, WebhooksModule } from './webhooks.module';
export { WebhooksService } from './webhooks.service';
export { DeliveryWorker } from './delivery-worker';
export { isPublicAddress } from './address-policy';
export { checkWebhookUrl } from './webhook-url';
