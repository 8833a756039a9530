import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, IsNull } from 'typeorm';
import { ApiKeyEntity } from '../db/entities/api-key.entity';
import { DbGate } from './db-gate';

/** An API key as stored: its hash, never the key. Times are epoch milliseconds. */
export interface ApiKeyRecord {
  id: string;
  /** Lower-case hex of SHA-256(key). */
  keyHash: string;
  tenant: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** What revoking found: the key was live (now revoked), was revoked already, or never existed. */
export type RevokeOutcome = 'revoked' | 'already-revoked' | 'missing';

/**
 * The api_key table. The database is the only place keys live: every replica reads it (through
 * @app/auth's short-lived cache), so a revocation needs no message to reach them.
 */
@Injectable()
export class ApiKeyStore {
  private readonly gate: DbGate;

  constructor(@InjectDataSource() dataSource: DataSource) {
    this.gate = new DbGate(dataSource);
  }

  async insert(record: ApiKeyRecord): Promise<void> {
    await this.gate.run((manager) => manager.insert(ApiKeyEntity, { ...record }));
  }

  /** The key with this id, revoked or not; null when there is none. */
  async findById(id: string): Promise<ApiKeyRecord | null> {
    const row = await this.gate.run((manager) => manager.findOneBy(ApiKeyEntity, { id }));
    return row === null ? null : toRecord(row);
  }

  /** The keys not revoked, oldest first; only the tenant's when one is given. */
  async listActive(tenant?: string): Promise<ApiKeyRecord[]> {
    const rows = await this.gate.run((manager) =>
      manager.find(ApiKeyEntity, {
        where: { revokedAt: IsNull(), ...(tenant === undefined ? {} : { tenant }) },
        order: { createdAt: 'ASC', id: 'ASC' },
      }),
    );
    return rows.map(toRecord);
  }

  /** Marks the key revoked at `at`; a key revoked before keeps its first time. */
  async revoke(id: string, at: number): Promise<RevokeOutcome> {
    const result = await this.gate.run((manager) =>
      manager.update(ApiKeyEntity, { id, revokedAt: IsNull() }, { revokedAt: at }),
    );
    if ((result.affected ?? 0) > 0) return 'revoked';
    return (await this.findById(id)) === null ? 'missing' : 'already-revoked';
  }

  /**
   * Records a use of a live key at `at`, unless one at or after `notBefore` is recorded already
   * (another replica wrote it meanwhile): a row changes at most once per interval.
   */
  async recordUse(id: string, at: number, notBefore: number): Promise<void> {
    await this.gate.run((manager) =>
      manager
        .createQueryBuilder()
        .update(ApiKeyEntity)
        .set({ lastUsedAt: at })
        .where('"id" = :id AND "revoked_at" IS NULL', { id })
        .andWhere('("last_used_at" IS NULL OR "last_used_at" < :notBefore)', { notBefore })
        .execute(),
    );
  }
}

function toRecord(row: ApiKeyEntity): ApiKeyRecord {
  return {
    id: row.id,
    keyHash: row.keyHash,
    tenant: row.tenant,
    name: row.name,
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt,
    revokedAt: row.revokedAt,
  };
}
