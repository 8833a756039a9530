import { CodedError } from '@app/domain';
import { EntityManager } from 'typeorm';
import { ResourceUsageEntity } from '../db/entities/resource-usage.entity';
import { UsageHoldEntity } from '../db/entities/usage-hold.entity';
import {
  buildCommittedResourcesQuery,
  buildNodeUsageQuery,
  buildTenantUsageQuery,
} from './resource-queries';
import type { RawUsage } from './resource-queries';
import {
  HOST_SCOPE,
  ZERO_USAGE,
  compareScopes,
  isHostScope,
  nodeScope,
  sumUsage,
  tenantScope,
} from './usage-contribution';
import type { UsageAmounts } from './usage-contribution';

/**
 * The limits a create reserves its share against, checked by the UPDATE that takes it (so two
 * creates on any processes cannot both take the last of it). Built by admission (SandboxResources)
 * from the host's capacity × overcommit and the tenant's limits.
 */
export interface ResourceReservation {
  /** What the live sandboxes may commit together on the host. */
  host: { cpuNanos: number; memoryBytes: number };
  /** The tenant's limits (null: that one is unlimited); null or absent: no tenant limits. */
  tenant?: {
    maxSandboxes: number | null;
    maxCpuNanos: number | null;
    maxMemoryBytes: number | null;
  } | null;
}

/** A counter that differed from the sum over the rows, as reconcileUsage found and fixed it. */
export interface UsageDrift {
  scope: string;
  counter: keyof UsageAmounts;
  /** What the counter row held. */
  stored: number;
  /** The sum over the sandbox rows, which the counter now holds. */
  truth: number;
}

export type Limits = Partial<Record<keyof UsageAmounts, number | null>>;

export const USAGE_COLUMNS: Record<keyof UsageAmounts, string> = {
  sandboxes: 'sandboxes',
  liveSandboxes: 'live_sandboxes',
  cpuNanos: 'cpu_nanos',
  memoryBytes: 'memory_bytes',
};
export const COUNTERS = Object.keys(USAGE_COLUMNS) as (keyof UsageAmounts)[];

/** Makes the scope's counter row (at zero) if it does not exist; never locks an existing row. */
export async function ensureUsageRow(
  manager: EntityManager,
  scope: string,
  now: number,
): Promise<void> {
  await manager
    .createQueryBuilder()
    .insert()
    .into(ResourceUsageEntity)
    .values({ scope, ...ZERO_USAGE, updatedAt: now })
    .orIgnore()
    .execute();
}

/**
 * Adds `delta` to the scope's counters, only if each counter named in `limits` stays at or below
 * its limit (null: unlimited). False when the row was left as it was: the reservation is refused.
 * The UPDATE takes the row's lock until the transaction ends, so the counter-updating statements
 * come last in every transaction, just before the event log (whose lock is taken last of all).
 */
export async function addUsage(
  tx: EntityManager,
  scope: string,
  delta: UsageAmounts,
  now: number,
  limits: Limits = {},
): Promise<boolean> {
  await ensureUsageRow(tx, scope, now);
  const params: Record<string, unknown> = { scope, now };
  const set: Record<string, unknown> = { updatedAt: now };
  const query = tx.createQueryBuilder().update(ResourceUsageEntity);
  const conditions: string[] = ['"scope" = :scope'];
  for (const counter of COUNTERS) {
    const column = USAGE_COLUMNS[counter];
    params[`d_${counter}`] = delta[counter];
    set[counter] = () => `"${column}" + :d_${counter}`;
    const limit = limits[counter];
    if (limit !== undefined && limit !== null) {
      params[`max_${counter}`] = limit;
      conditions.push(`"${column}" + :d_${counter} <= :max_${counter}`);
    }
  }
  const result = await query
    .set(set)
    .where(conditions.join(' AND '))
    .setParameters(params)
    .execute();
  return result.affected === 1;
}

/**
 * Applies unconditional deltas in lock order (see usageDelta): a transition that releases or
 * re-commits a share (stop, restart, delete) is never refused here.
 */
export async function applyUsageDeltas(
  tx: EntityManager,
  deltas: readonly [string, UsageAmounts][],
  now: number,
): Promise<void> {
  for (const [scope, delta] of [...deltas].sort(([a], [b]) => compareScopes(a, b))) {
    await addUsage(tx, scope, delta, now);
  }
}

/**
 * Takes a new row's share within `reservation`: the host row first, then the tenant's (the lock
 * order). Throws INSUFFICIENT_CAPACITY or TENANT_QUOTA_EXCEEDED (details.scope names the row) so
 * the caller's transaction rolls back; SandboxResources rewrites either with the usage it reads.
 */
export async function reserveUsage(
  tx: EntityManager,
  deltas: readonly [string, UsageAmounts][],
  reservation: ResourceReservation,
  now: number,
): Promise<void> {
  for (const [scope, delta] of [...deltas].sort(([a], [b]) => compareScopes(a, b))) {
    if (!(await addUsage(tx, scope, delta, now, reservationLimits(scope, reservation)))) {
      throw reservationRefusal(scope);
    }
  }
}

/** What a reservation on the scope's counter row may take it to (see ResourceReservation). */
export function reservationLimits(scope: string, reservation: ResourceReservation): Limits {
  if (isHostScope(scope)) {
    const { cpuNanos, memoryBytes } = reservation.host;
    return { cpuNanos, memoryBytes };
  }
  const limits = reservation.tenant ?? null;
  if (limits === null) return {};
  return {
    sandboxes: limits.maxSandboxes,
    cpuNanos: limits.maxCpuNanos,
    memoryBytes: limits.maxMemoryBytes,
  };
}

/** The store's refusal of a reservation on the scope (SandboxResources explains it). */
export function reservationRefusal(scope: string): CodedError {
  return isHostScope(scope)
    ? new CodedError('INSUFFICIENT_CAPACITY', 'not enough capacity on this host', { scope })
    : new CodedError('TENANT_QUOTA_EXCEEDED', 'the tenant would exceed its limits', { scope });
}

/** The scope's counters; zeros when it has no row. */
export async function readUsage(manager: EntityManager, scope: string): Promise<UsageAmounts> {
  const row = await manager.findOneBy(ResourceUsageEntity, { scope });
  if (row === null) return { ...ZERO_USAGE };
  const { sandboxes, liveSandboxes, cpuNanos, memoryBytes } = row;
  return { sandboxes, liveSandboxes, cpuNanos, memoryBytes };
}

function amountsOf(raw: RawUsage | undefined): UsageAmounts {
  return {
    sandboxes: Number(raw?.sandboxes ?? 0),
    liveSandboxes: Number(raw?.liveSandboxes ?? 0),
    cpuNanos: Number(raw?.cpuNanos ?? 0),
    memoryBytes: Number(raw?.memoryBytes ?? 0),
  };
}

/**
 * How long a hold may wait for its insert. An insert follows its hold at once (a burst's queue
 * for connections is well under a second); older holds belong to a create that died.
 */
export const HOLD_TTL_MS = 60_000;

/** Deletes the holds older than HOLD_TTL_MS (called by reconcileUsage, under its locks). */
export async function expireHolds(tx: EntityManager, now: number): Promise<number> {
  const deleted = await tx
    .createQueryBuilder()
    .delete()
    .from(UsageHoldEntity)
    .where('"created_at" < :cutoff', { cutoff: now - HOLD_TTL_MS })
    .execute();
  return deleted.affected ?? 0;
}

/** What the holds add to each counter, by scope. */
export async function heldUsage(manager: EntityManager): Promise<Map<string, UsageAmounts>> {
  const holds = await manager.find(UsageHoldEntity);
  const totals = new Map<string, UsageAmounts>();
  for (const hold of holds)
    totals.set(hold.scope, sumUsage(totals.get(hold.scope) ?? ZERO_USAGE, hold));
  return totals;
}

/**
 * What each counter should hold, by scope: the sums over the sandbox rows (one aggregate for the
 * host, one for the cluster nodes, one for all tenants) plus the holds of creates not inserted yet. The holds are read first:
 * an insert that turns its hold into its row between the reads is then counted twice (the counter
 * is set too high until the next pass), never not at all (which would let a create overcommit).
 */
export async function usageTruth(manager: EntityManager): Promise<Map<string, UsageAmounts>> {
  const held = await heldUsage(manager);
  const host = await buildCommittedResourcesQuery(manager).getRawOne<RawUsage>();
  const nodes = await buildNodeUsageQuery(manager).getRawMany<RawUsage>();
  const tenants = await buildTenantUsageQuery(manager).getRawMany<RawUsage>();
  const truth = new Map<string, UsageAmounts>([[HOST_SCOPE, amountsOf(host)]]);
  for (const raw of nodes) truth.set(nodeScope(String(raw.node)), amountsOf(raw));
  for (const raw of tenants) truth.set(tenantScope(String(raw.tenant)), amountsOf(raw));
  for (const [scope, amounts] of held)
    truth.set(scope, sumUsage(truth.get(scope) ?? ZERO_USAGE, amounts));
  return truth;
}

/** Counters that differ from `truth` (a scope without truth should be all zeros). */
export function driftOf(
  stored: ReadonlyMap<string, UsageAmounts>,
  truth: ReadonlyMap<string, UsageAmounts>,
): UsageDrift[] {
  const drift: UsageDrift[] = [];
  for (const [scope, counters] of [...stored].sort(([a], [b]) => compareScopes(a, b))) {
    const wanted = truth.get(scope) ?? ZERO_USAGE;
    for (const counter of COUNTERS) {
      if (counters[counter] !== wanted[counter]) {
        drift.push({ scope, counter, stored: counters[counter], truth: wanted[counter] });
      }
    }
  }
  return drift;
}

/** Every counter row, by scope. */
async function storedUsage(
  manager: EntityManager,
  lock: boolean,
): Promise<Map<string, UsageAmounts>> {
  const postgres = manager.connection.options.type === 'postgres';
  const query = manager
    .createQueryBuilder(ResourceUsageEntity, 'u')
    // Byte order, the lock order of compareScopes, whatever the database's collation.
    .orderBy(postgres ? 'u.scope COLLATE "C"' : 'u.scope', 'ASC');
  // SQLite: the store's transactions run one at a time (DbGate), so nothing needs locking.
  if (lock && postgres) query.setLock('pessimistic_write');
  const rows = await query.getMany();
  return new Map(
    rows.map(({ scope, sandboxes, liveSandboxes, cpuNanos, memoryBytes }) => [
      scope,
      { sandboxes, liveSandboxes, cpuNanos, memoryBytes },
    ]),
  );
}

/** What reconcileUsage would fix, without fixing it (a look only: no locks are taken). */
export async function findUsageDrift(manager: EntityManager): Promise<UsageDrift[]> {
  const truth = await usageTruth(manager);
  const stored = await storedUsage(manager, false);
  for (const scope of truth.keys()) if (!stored.has(scope)) stored.set(scope, { ...ZERO_USAGE });
  return driftOf(stored, truth);
}

/**
 * Sets every counter that differs from the sum over the rows to that sum, and returns what it
 * fixed. The missing rows are made first, each in its own statement (so no insert is held while
 * other rows are waited for); then, in one transaction, every counter row is locked in lock order
 * (so creates and transitions queue behind it as they do behind each other, without deadlock),
 * holds older than HOLD_TTL_MS are expired, the truth is summed while they are held (a writer
 * that has not committed has not moved the counters either) and the differences are written.
 */
export async function reconcileUsage(manager: EntityManager, now: number): Promise<UsageDrift[]> {
  const scopes = [...(await usageTruth(manager)).keys()];
  const existing = await storedUsage(manager, false);
  for (const scope of scopes) if (!existing.has(scope)) await ensureUsageRow(manager, scope, now);
  return manager.transaction(async (tx) => {
    const stored = await storedUsage(tx, true);
    // Under the counters' locks, so no hold is taken or released meanwhile.
    await expireHolds(tx, now);
    const drift = driftOf(stored, await usageTruth(tx));
    const fixes = new Map<string, Partial<UsageAmounts>>();
    for (const item of drift) {
      fixes.set(item.scope, { ...fixes.get(item.scope), [item.counter]: item.truth });
    }
    for (const [scope, values] of fixes) {
      await tx.update(ResourceUsageEntity, { scope }, { ...values, updatedAt: now });
    }
    return drift;
  });
}
