import { isCodedError, isTenantName, validationError, pickSandboxInfo } from '@app/domain';
import { Logger } from '@nestjs/common';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { NO_TENANT, SandboxEntity } from '../db/entities/sandbox.entity';
import { SandboxLabelEntity } from '../db/entities/sandbox-label.entity';
import type { SandboxInfo, SandboxRecord, SealedSandboxSpec } from '@app/domain';
import { parseStoredInfo, parseStoredSpec } from '../stored-sandbox-schema';

/**
 * Column sizes, checked here because SQLite ignores varchar lengths: without the check a value
 * accepted on SQLite would be rejected by PostgreSQL, and the two drivers would behave differently.
 */
export const COLUMN_LIMITS = {
  id: 64,
  name: 128,
  image: 512,
  instanceId: 64,
  node: 64,
  machineVersion: 32,
  labelKey: 128,
  labelValue: 512,
  idempotencyKey: 255,
  fingerprint: 128,
} as const;

export function assertMaxLength(field: string, value: string, max: number): void {
  if (value.length === 0 || value.length > max) {
    throw validationError(field, `must be 1-${max} characters`);
  }
}

/** Keeps only the keys that are columns of the entity: nothing else is ever sent to the DB. */
export function pickColumns<T extends object>(values: T, columns: readonly string[]): Partial<T> {
  const picked: Partial<T> = {};
  for (const column of columns) {
    if (Object.prototype.hasOwnProperty.call(values, column)) {
      (picked as Record<string, unknown>)[column] = (values as Record<string, unknown>)[column];
    }
  }
  return picked;
}

/**
 * The row's column values for INSERT/UPDATE builders. TypeORM's deep-partial type cannot express
 * an `unknown` JSON column (the machine snapshot); the values are exactly the entity's columns.
 */
export function sandboxColumnValues(
  row: SandboxEntity,
  columns: readonly string[],
): QueryDeepPartialEntity<SandboxEntity> {
  return pickColumns(row, columns) as QueryDeepPartialEntity<SandboxEntity>;
}

/** info.tenant as the `tenant` column holds it (NO_TENANT for none; see the entity). */
export function tenantColumn(tenant: string | null): string {
  return tenant ?? NO_TENANT;
}

/** ISO instant → epoch ms for the bigint columns. */
export function toEpochMs(field: string, iso: string): number;
export function toEpochMs(field: string, iso: string | null): number | null;
export function toEpochMs(field: string, iso: string | null): number | null {
  if (iso === null) return null;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) {
    throw validationError(field, 'must be an ISO-8601 instant');
  }
  return ms;
}

/**
 * The full row for a sandbox. `info` is stored picked, so it holds SandboxInfo fields only. A
 * deleted sandbox's row keeps no env value, not even sealed (info keeps the names).
 */
export function buildSandboxRow(
  info: SandboxInfo,
  spec: SealedSandboxSpec,
  machineSnapshot: unknown,
  machineVersion: string,
  version: number,
): SandboxEntity {
  const stored = pickSandboxInfo(info);
  assertMaxLength('id', stored.id, COLUMN_LIMITS.id);
  if (stored.name !== null) assertMaxLength('name', stored.name, COLUMN_LIMITS.name);
  // The column mirrors it for scoped reads: a value that is no tenant name would scope nothing.
  if (stored.tenant !== null && !isTenantName(stored.tenant)) {
    throw validationError('tenant', 'must be null or a tenant name');
  }
  assertMaxLength('image', stored.image, COLUMN_LIMITS.image);
  assertMaxLength('instanceId', stored.instanceId, COLUMN_LIMITS.instanceId);
  if (stored.node !== null) assertMaxLength('node', stored.node, COLUMN_LIMITS.node);
  assertMaxLength('machineVersion', machineVersion, COLUMN_LIMITS.machineVersion);
  buildLabelRows(stored.id, stored.labels);
  // SQLite would store any value in the boolean column; PostgreSQL would reject it.
  if (typeof stored.protected !== 'boolean') {
    throw validationError('protected', 'must be a boolean');
  }
  // Not a column, but validated like one: the scheduler computes deadlines from it.
  toEpochMs('lastActivityAt', stored.lastActivityAt);
  assertResources(stored);

  const row = new SandboxEntity();
  row.id = stored.id;
  row.name = stored.name;
  row.tenant = tenantColumn(stored.tenant);
  row.state = stored.state;
  row.operation = stored.operation;
  row.image = stored.image;
  row.labels = stored.labels;
  row.instanceId = stored.instanceId;
  row.node = stored.node ?? '';
  row.createdAt = toEpochMs('createdAt', stored.createdAt);
  row.startedAt = toEpochMs('startedAt', stored.startedAt);
  row.stoppedAt = toEpochMs('stoppedAt', stored.stoppedAt);
  row.deletedAt = toEpochMs('deletedAt', stored.deletedAt);
  row.autoStopAt = toEpochMs('autoStopAt', stored.autoStopAt);
  row.autoDeleteAt = toEpochMs('autoDeleteAt', stored.autoDeleteAt);
  row.protected = stored.protected;
  row.cpus = stored.cpus;
  row.memoryBytes = stored.memoryBytes;
  row.spec = stored.state === 'deleted' ? { ...spec, sealedEnv: {} } : spec;
  row.info = stored;
  row.machineSnapshot = machineSnapshot ?? null;
  row.machineVersion = machineVersion;
  row.version = version;
  return row;
}

/**
 * The resource columns are summed into the committed totals, so a negative value would hide usage
 * from the quota; and SQLite would store a string or a fraction where PostgreSQL's float and bigint
 * columns reject it. `runtime` is no column, but the read schema rejects an empty one.
 */
function assertResources(info: SandboxInfo): void {
  const { cpus, memoryBytes, runtime } = info;
  if (cpus !== null && !(typeof cpus === 'number' && Number.isFinite(cpus) && cpus >= 0)) {
    throw validationError('cpus', 'must be null or a non-negative number');
  }
  if (memoryBytes !== null && !(Number.isSafeInteger(memoryBytes) && memoryBytes >= 0)) {
    throw validationError('memoryBytes', 'must be null or a non-negative integer');
  }
  if (typeof runtime !== 'string' || runtime.length === 0) {
    throw validationError('runtime', 'must be a non-empty string');
  }
}

export function buildLabelRows(
  sandboxId: string,
  labels: Record<string, string>,
): SandboxLabelEntity[] {
  return Object.entries(labels).map(([key, value]) => {
    assertMaxLength('labels', key, COLUMN_LIMITS.labelKey);
    // An empty value is a valid Docker label; only the length is bounded.
    if (value.length > COLUMN_LIMITS.labelValue) {
      throw validationError(
        'labels',
        `label values must be at most ${COLUMN_LIMITS.labelValue} characters`,
      );
    }
    const row = new SandboxLabelEntity();
    row.sandboxId = sandboxId;
    row.key = key;
    row.value = value;
    return row;
  });
}

/**
 * A row as the record the sandbox library works with: info and spec checked against their schemas
 * (RECORD_CORRUPT when either fails; info picked, so no stray DB field), the machine snapshot left
 * to the sandbox library, which owns its shape.
 */
export function toSandboxRecord(row: SandboxEntity): SandboxRecord {
  return {
    info: parseStoredInfo(row.info, row.id),
    spec: parseStoredSpec(withSealedEnv(row.spec), row.id),
    machineSnapshot: row.machineSnapshot ?? null,
    machineVersion: row.machineVersion,
    version: row.version,
  };
}

/**
 * The records of the rows that can be read, for scans (reconciler, deadline scans, loadMany): a
 * corrupt row is reported to `onCorrupt` and left out, so one bad row never stops a scan. Reading
 * that sandbox on its own answers RECORD_CORRUPT.
 */
export function readableRecords(rows: readonly SandboxEntity[]): SandboxRecord[] {
  return rows.flatMap((row) => skippingCorrupt(() => toSandboxRecord(row)));
}

const logger = new Logger('StoredRecords');

/** `[read()]`, or `[]` (logged) when the row it reads is RECORD_CORRUPT. */
export function skippingCorrupt<T>(read: () => T): T[] {
  try {
    return [read()];
  } catch (error) {
    if (!isCodedError(error, 'RECORD_CORRUPT')) throw error;
    logger.error(`${error.message}; skipped`);
    return [];
  }
}

/**
 * A spec whose env was stored in clear (`env`) by a version before sealing reads with those values
 * as its `sealedEnv`: they fail to open (SECRETS_UNREADABLE) rather than silently reading as no
 * env. The EncryptEnvValues migration leaves no such row; only a writer that predates it could.
 */
function withSealedEnv(spec: unknown): unknown {
  if (typeof spec !== 'object' || spec === null) return spec;
  const stored = spec as { env?: unknown; sealedEnv?: unknown };
  if (stored.sealedEnv !== undefined) return spec;
  const { env, ...rest } = stored;
  return { ...rest, sealedEnv: env ?? {} };
}

/** Label sets compared as sets, ignoring key order. */
export function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => b[key] === a[key]);
}
