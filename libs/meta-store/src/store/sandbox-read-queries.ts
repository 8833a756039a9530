import type { DataSource } from 'typeorm';
import { SandboxEntity } from '../db/entities/sandbox.entity';
import type { SandboxInfo } from '@app/domain';
import { parseStoredInfo } from '../stored-sandbox-schema';
import { CompiledQuery } from './compiled-query';

/** A row of the read queries: the `info` column as the driver returns it (JSON text). */
export interface RawInfoRow {
  info: unknown;
}

/**
 * The public info of one sandbox, for reads (GET by id or name). Only the `info` column is read:
 * the spec and the machine snapshot, which a read never returns, are neither fetched nor parsed,
 * and the SQL is compiled once.
 */
export class SandboxInfoQueries {
  readonly byId: CompiledQuery<'id'>;
  /** byId within one tenant: another tenant's sandbox is no row, as if it did not exist. */
  readonly byIdOfTenant: CompiledQuery<'id' | 'tenant'>;
  /** A name within one namespace (a tenant's, or NO_TENANT's): names are unique per tenant. */
  readonly byLiveName: CompiledQuery<'tenant' | 'name'>;

  constructor(dataSource: DataSource) {
    const select = () =>
      dataSource.manager.createQueryBuilder(SandboxEntity, 's').select('s.info', 'info');
    this.byId = new CompiledQuery((m) => select().where('s.id = :id', { id: m.id }), ['id']);
    this.byIdOfTenant = new CompiledQuery(
      (m) =>
        select()
          .where('s.id = :id', { id: m.id })
          .andWhere('s.tenant = :tenant', { tenant: m.tenant }),
      ['id', 'tenant'],
    );
    // What findOneBy({ tenant, name, state: Not('deleted') }) asks; the live-name index makes it
    // one row.
    this.byLiveName = new CompiledQuery(
      (m) =>
        select()
          .where('s.tenant = :tenant', { tenant: m.tenant })
          .andWhere('s.name = :name', { name: m.name })
          .andWhere("s.state <> 'deleted'")
          .limit(1),
      ['tenant', 'name'],
    );
  }
}

/**
 * A raw `info` value as the SandboxInfo a read returns: parsed as TypeORM's simple-json column
 * would (JSON text; a driver that already parsed it hands over the value), then checked against
 * the info schema, which also drops any key that is not a SandboxInfo field. RECORD_CORRUPT names
 * the sandbox whose row fails.
 */
export function infoFromRaw(raw: unknown, sandboxId: string): SandboxInfo {
  return parseStoredInfo(raw, sandboxId);
}
