/**
 * TypeORM CLI data source only (`npm run typeorm -- migration:run`, `migration:generate`). The app
 * builds its connection from the same options object, so the two never drift apart.
 */
import { DataSource } from 'typeorm';
import { loadConfig } from '@app/config';
import { buildDataSourceOptions, resolveSecretsKeyring } from '@app/meta-store';

const config = loadConfig(process.env);
// The service's key: the migration that seals env values stored in clear needs it.
export default new DataSource(
  buildDataSourceOptions(config.store, resolveSecretsKeyring(config.store)),
);
