/**
 * TypeORM CLI data source only (`npm run typeorm -- migration:run`, `migration:generate`). The app
 * builds its connection from the same options object, so the two never drift apart.
 */
import { DataSource } from 'typeorm';
import { loadConfig } from '@app/config';
import { buildDataSourceOptions } from '@app/meta-store';

export default new DataSource(buildDataSourceOptions(loadConfig(process.env)));
