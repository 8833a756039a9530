import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { StoreConfig } from '@app/config';
import { DataSourceOptions } from 'typeorm';
import { buildDataSourceOptions } from './db/data-source-options';
import { META_STORE_ENTITIES } from './db/entities';
import { initializeDataSource } from './db/initialize-data-source';
import { createKeyValueStore } from './kv/key-value-store.factory';
import { KeyValueStore } from './kv/key-value-store';
import { SandboxLock } from './lock/sandbox-lock';
import { TaskLock } from './lock/task-lock';
import { SecretsModule } from './secrets/secrets.module';
import { SecretsKeyring } from './secrets/secrets-keyring';
import { ApiKeyStore } from './store/api-key-store';
import { ClusterNodeStore } from './cluster/cluster-node-store';
import { SandboxMetaStore } from './store/sandbox-meta-store';
import { TenantLimitsStore } from './tenants/tenant-limits-store';
import { SandboxEventLog } from './events/sandbox-event-log';
import { WebhookStore } from './webhooks/webhook-store';

/**
 * Persistence for sandboxes and API keys: the SQL database (PostgreSQL or SQLite, migrated at start), the
 * key-value store (Redis or memory), the per-sandbox lock and the cluster-wide task lock, and the
 * keyring that seals env values at rest (SecretsModule).
 * StoreConfig comes from the global AppConfigModule.
 */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      imports: [SecretsModule],
      inject: [StoreConfig, SecretsKeyring],
      useFactory: (config: StoreConfig, keyring: SecretsKeyring) => ({
        ...buildDataSourceOptions(config, keyring),
        // A database that is still starting (compose, k8s) gets a few chances before we give up.
        retryAttempts: 5,
        retryDelay: 2_000,
      }),
      // Migrations under an advisory lock, so instances starting together do not race.
      dataSourceFactory: (options?: DataSourceOptions) => {
        if (options === undefined) throw new Error('MetaStoreModule: missing DataSource options');
        return initializeDataSource(options);
      },
    }),
    TypeOrmModule.forFeature(META_STORE_ENTITIES),
    SecretsModule,
  ],
  providers: [
    { provide: KeyValueStore, inject: [StoreConfig], useFactory: createKeyValueStore },
    SandboxMetaStore,
    SandboxEventLog,
    TenantLimitsStore,
    ApiKeyStore,
    SandboxLock,
    TaskLock,
    WebhookStore,
    ClusterNodeStore,
  ],
  exports: [
    ClusterNodeStore,
    WebhookStore,
    SandboxMetaStore,
    SandboxEventLog,
    TenantLimitsStore,
    ApiKeyStore,
    SandboxLock,
    TaskLock,
    KeyValueStore,
    SecretsModule,
  ],
})
export class MetaStoreModule {}
