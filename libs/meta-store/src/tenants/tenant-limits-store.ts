import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { NO_TENANT_LIMITS, tenantNameOf, validationError } from '@app/domain';
import type { TenantLimits } from '@app/domain';
import { TenantLimitsEntity } from '../db/entities/tenant-limits.entity';
import { DbGate } from '../store/db-gate';

/** A tenant's limits as stored, and when they were last set (null: never). */
export interface StoredTenantLimits {
  limits: TenantLimits;
  updatedAt: string | null;
}

/**
 * The tenant_limits table. Read on every create of a tenant (so a change is in force for the next
 * create on any replica; the create reserves against the limits it read, see SandboxResources) and
 * written by the admin's PUT.
 */
@Injectable()
export class TenantLimitsStore {
  private readonly gate: DbGate;

  constructor(@InjectDataSource() dataSource: DataSource) {
    this.gate = new DbGate(dataSource);
  }

  /** The tenant's limits; every limit null when none was ever set. */
  get(tenant: string): Promise<StoredTenantLimits> {
    const name = tenantNameOf(tenant);
    return this.gate.run(async (manager) => {
      const row = await manager.findOneBy(TenantLimitsEntity, { tenant: name });
      return row === null ? { limits: { ...NO_TENANT_LIMITS }, updatedAt: null } : stored(row);
    });
  }

  /**
   * Sets the limits named in `change` (null clears one) and keeps the others, in one upsert: two
   * admins setting different limits at once both take effect, whatever the order.
   */
  set(
    tenant: string,
    change: Partial<TenantLimits>,
    now = Date.now(),
  ): Promise<StoredTenantLimits> {
    const name = tenantNameOf(tenant);
    const columns = checkedChange(change);
    return this.gate.run(async (manager) => {
      const row: TenantLimitsEntity = {
        tenant: name,
        maxSandboxes: null,
        maxCpus: null,
        maxMemoryBytes: null,
        ...columns,
        updatedAt: now,
      };
      await manager
        .createQueryBuilder()
        .insert()
        .into(TenantLimitsEntity)
        .values(row)
        .orUpdate([...Object.keys(columns).map(columnOf), 'updated_at'], ['tenant'])
        .execute();
      const written = await manager.findOneByOrFail(TenantLimitsEntity, { tenant: name });
      return stored(written);
    });
  }
}

const COLUMNS: Record<keyof TenantLimits, string> = {
  maxSandboxes: 'max_sandboxes',
  maxCpus: 'max_cpus',
  maxMemoryBytes: 'max_memory_bytes',
};

function columnOf(field: string): string {
  return COLUMNS[field as keyof TenantLimits];
}

/**
 * Only the limits the change names, each checked (the API validated them already; SQLite would
 * store a string or a fraction that PostgreSQL rejects, so the store checks again).
 */
function checkedChange(change: Partial<TenantLimits>): Partial<TenantLimits> {
  const out: Partial<TenantLimits> = {};
  const { maxSandboxes, maxCpus, maxMemoryBytes } = change;
  if (maxSandboxes !== undefined) {
    if (maxSandboxes !== null && !(Number.isSafeInteger(maxSandboxes) && maxSandboxes >= 0)) {
      throw validationError('maxSandboxes', 'must be null or a whole number, at least 0');
    }
    out.maxSandboxes = maxSandboxes;
  }
  if (maxCpus !== undefined) {
    if (maxCpus !== null && !(Number.isFinite(maxCpus) && maxCpus >= 0)) {
      throw validationError('maxCpus', 'must be null or a number, at least 0');
    }
    out.maxCpus = maxCpus;
  }
  if (maxMemoryBytes !== undefined) {
    if (maxMemoryBytes !== null && !(Number.isSafeInteger(maxMemoryBytes) && maxMemoryBytes >= 0)) {
      throw validationError('maxMemory', 'must be null or a size');
    }
    out.maxMemoryBytes = maxMemoryBytes;
  }
  return out;
}

function stored(row: TenantLimitsEntity): StoredTenantLimits {
  return {
    limits: {
      maxSandboxes: row.maxSandboxes,
      maxCpus: row.maxCpus,
      maxMemoryBytes: row.maxMemoryBytes,
    },
    updatedAt: new Date(row.updatedAt).toISOString(),
  };
}
