import { ApiKeyEntity } from './api-key.entity';
import { ClusterNodeEntity } from './cluster-node.entity';
import { IdempotencyKeyEntity } from './idempotency-key.entity';
import { ResourceUsageEntity } from './resource-usage.entity';
import { SandboxAccessTokenEntity } from './sandbox-access-token.entity';
import { SandboxEventEntity } from './sandbox-event.entity';
import { SandboxLabelEntity } from './sandbox-label.entity';
import { SandboxEntity } from './sandbox.entity';
import { TenantLimitsEntity } from './tenant-limits.entity';
import { UsageHoldEntity } from './usage-hold.entity';
import { WebhookAttemptEntity } from './webhook-attempt.entity';
import { WebhookDeliveryEntity } from './webhook-delivery.entity';
import { WebhookEntity } from './webhook.entity';

export {
  ApiKeyEntity,
  ClusterNodeEntity,
  IdempotencyKeyEntity,
  ResourceUsageEntity,
  SandboxAccessTokenEntity,
  SandboxEntity,
  SandboxEventEntity,
  SandboxLabelEntity,
  TenantLimitsEntity,
  UsageHoldEntity,
  WebhookAttemptEntity,
  WebhookDeliveryEntity,
  WebhookEntity,
};

/** Listed explicitly (no globs): the app is bundled by webpack. */
export const META_STORE_ENTITIES = [
  SandboxEntity,
  SandboxLabelEntity,
  IdempotencyKeyEntity,
  TenantLimitsEntity,
  ResourceUsageEntity,
  UsageHoldEntity,
  SandboxAccessTokenEntity,
  ApiKeyEntity,
  SandboxEventEntity,
  WebhookEntity,
  WebhookDeliveryEntity,
  WebhookAttemptEntity,
  ClusterNodeEntity,
];
