import { IdempotencyKeyEntity } from './idempotency-key.entity';
import { SandboxLabelEntity } from './sandbox-label.entity';
import { SandboxEntity } from './sandbox.entity';

export { IdempotencyKeyEntity, SandboxEntity, SandboxLabelEntity };

/** Listed explicitly (no globs): the app is bundled by webpack. */
export const META_STORE_ENTITIES = [SandboxEntity, SandboxLabelEntity, IdempotencyKeyEntity];
