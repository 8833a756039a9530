// Decorator metadata (entities, injectables, config DTOs) must exist before any of them loads.
import 'reflect-metadata';

export { MetaStoreModule } from './meta-store.module';

export { KeyValueStore } from './kv/key-value-store';
export type { ScoredMember } from './kv/key-value-store';
export { MemoryKeyValueStore } from './kv/memory-key-value-store';
export { RedisKeyValueStore } from './kv/redis-key-value-store';
export { createKeyValueStore } from './kv/key-value-store.factory';

export { SandboxLock, sandboxLockKey } from './lock/sandbox-lock';
export type { TryLockResult } from './lock/sandbox-lock';
export { TaskLock, taskLockKey } from './lock/task-lock';

export { buildDataSourceOptions, MIGRATIONS_TABLE_NAME } from './db/data-source-options';
export { initializeDataSource } from './db/initialize-data-source';
export {
  ApiKeyEntity,
  ClusterNodeEntity,
  IdempotencyKeyEntity,
  META_STORE_ENTITIES,
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
} from './db/entities';
export { META_STORE_MIGRATIONS, metaStoreMigrations } from './migrations';

export { SecretsKeyring, isSealedValue } from './secrets/secrets-keyring';
export { SecretsModule } from './secrets/secrets.module';
export { SECRETS_KEY_FILE, resolveSecretsKeyring } from './secrets/resolve-keyring';

export { SandboxMetaStore } from './store/sandbox-meta-store';
export { ClusterNodeStore } from './cluster/cluster-node-store';
export type { ClusterNodeRecord, NodeBeat, NodeFacts } from './cluster/cluster-node-store';
export { TenantLimitsStore } from './tenants/tenant-limits-store';
export type { StoredTenantLimits } from './tenants/tenant-limits-store';
export { ApiKeyStore } from './store/api-key-store';
export type { ApiKeyRecord, RevokeOutcome } from './store/api-key-store';
export { SandboxEventLog } from './events/sandbox-event-log';
export type { EventLogQuery } from './events/sandbox-event-log';
export { EVENT_LOG_LOCK_KEY } from './events/event-rows';
export { WebhookStore } from './webhooks/webhook-store';
export type { WebhookScope } from './webhooks/webhook-store';
export type {
  AttemptOutcome,
  AttemptView,
  ClaimedDelivery,
  DeliveryStatus,
  DeliveryView,
  NewWebhook,
  WebhookInfo,
} from './webhooks/webhook-types';
export {
  AUTO_STOP_INDEX_BUILT_KEY,
  AUTO_STOP_INDEX_KEY,
  aliveKey,
  legacyTimeoutKey,
} from './store/cache-keys';
export { AUTO_STOP_INDEX_TTL_MS } from './store/auto-stop-index';
export { decodeCursor, encodeCursor } from './store/cursor';
export { COLUMN_LIMITS } from './store/sandbox-row';
export { IDEMPOTENCY_WINDOW_MS, LOAD_MANY_BATCH } from './store/sandbox-db';
export type { CommittedResources } from './store/sandbox-db';
export type { ResourceReservation, UsageDrift } from './store/usage-counters';
export { cpuNanosOf, nodeScope } from './store/usage-contribution';
export type {
  IdempotencyInput,
  InsertSandboxInput,
  ListSandboxesQuery,
  SandboxPage,
  TenantScope,
  StoredAccessToken,
  VersionedWriteOptions,
} from './store/meta-store.types';
