export { AppConfig, loadConfig, validateEnv } from './app-config';
export type { LogLevel } from './app-config';
export { AppConfigModule } from './config.module';
export { SECRETS_KEY_BYTES, SECRETS_KEY_FORMAT, SecretsKey } from './secrets-key';
export { MAX_WARM_POOL_SIZE, parseWarmPool } from './warm-pool-config';
export type { WarmPoolEntry } from './warm-pool-config';
