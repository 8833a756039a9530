import { ApiKeyEntity } from './api-key.entity';
import { IdempotencyKeyEntity } from './idempotency-key.entity';
import { SandboxAccessTokenEntity } from './sandbox-access-token.entity';
import { SandboxLabelEntity } from './sandbox-label.entity';
import { SandboxEntity } from './sandbox.entity';
import { TenantLimitsEntity } from './tenant-limits.entity';

export {
  ApiKeyEntity,
  IdempotencyKeyEntity,
  SandboxAccessTokenEntity,
  SandboxEntity,
  SandboxLabelEntity,
  TenantLimitsEntity,
};

/** Listed explicitly (no globs): the app is bundled by webpack. */
export const META_STORE_ENTITIES = [
  SandboxEntity,
  SandboxLabelEntity,
  IdempotencyKeyEntity,
  TenantLimitsEntity,
  SandboxAccessTokenEntity,
  ApiKeyEntity,
];
