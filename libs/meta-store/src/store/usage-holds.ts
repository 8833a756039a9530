import { EntityManager } from 'typeorm';
import { UsageHoldEntity } from '../db/entities/usage-hold.entity';
import {
  COUNTERS,
  USAGE_COLUMNS,
  applyUsageDeltas,
  ensureUsageRow,
  reservationLimits,
  reservationRefusal,
} from './usage-counters';
import type { Limits, ResourceReservation } from './usage-counters';
import { ZERO_USAGE, isHostScope, sumUsage } from './usage-contribution';
import type { UsageAmounts } from './usage-contribution';

/**
 * Holds: on PostgreSQL a create takes its share of each usage counter before its insert, each in
 * one autocommitted statement (the conditional UPDATE and the hold row that records it), so a
 * counter row is locked for that statement only. Taken inside the insert's transaction instead,
 * the row stayed locked until its COMMIT, two more round trips, and a burst of creates queued on
 * the host row one transaction at a time (a 50-create burst waited p50 150 ms, p95 800 ms).
 *
 * The insert deletes its holds in its own transaction, so a share is counted once at every
 * moment: in the counter together with a hold, then in the counter together with the row. A
 * failed insert releases its holds; a hold whose create died in between is expired by the
 * reconcile pass after HOLD_TTL_MS (usage-counters.ts). SQLite runs one write at a time (DbGate)
 * and keeps the reservation inside the insert.
 */

/**
 * Takes the holds of `sandboxId` on every scope of `deltas`, the tenant's first: a tenant's
 * refusal, the common one, then never holds the host's capacity even for a moment. Throws the
 * refusal (INSUFFICIENT_CAPACITY or TENANT_QUOTA_EXCEEDED, details.scope) with every hold it took
 * released. Each statement locks one counter row by itself, so the order cannot deadlock.
 */
export async function takeHolds(
  manager: EntityManager,
  sandboxId: string,
  deltas: readonly [string, UsageAmounts][],
  reservation: ResourceReservation,
  now: number,
): Promise<void> {
  const tenantsFirst = [...deltas].sort(
    ([a], [b]) => Number(isHostScope(a)) - Number(isHostScope(b)),
  );
  for (const [scope, delta] of tenantsFirst) {
    const held = async () =>
      holdOnce(manager, sandboxId, scope, delta, reservationLimits(scope, reservation), now);
    // No row affected: refused, or the scope has no counter row yet (made, then asked again).
    let ok = await held();
    if (!ok) {
      await ensureUsageRow(manager, scope, now);
      ok = await held();
    }
    if (!ok) {
      await releaseHolds(manager, sandboxId, now);
      throw reservationRefusal(scope);
    }
  }
}

/** The conditional UPDATE and the hold that records it, in one statement (see takeHolds). */
async function holdOnce(
  manager: EntityManager,
  sandboxId: string,
  scope: string,
  delta: UsageAmounts,
  limits: Limits,
  now: number,
): Promise<boolean> {
  const params: unknown[] = [sandboxId, scope, now];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  const set: string[] = [`"updated_at" = $3`];
  const where: string[] = [`"scope" = $2`];
  const amounts: string[] = [];
  for (const counter of COUNTERS) {
    const column = USAGE_COLUMNS[counter];
    const amount = param(delta[counter]);
    amounts.push(`${amount}::bigint`);
    set.push(`"${column}" = "${column}" + ${amount}`);
    const limit = limits[counter];
    if (limit !== undefined && limit !== null)
      where.push(`"${column}" + ${amount} <= ${param(limit)}`);
  }
  const columns = COUNTERS.map((counter) => `"${USAGE_COLUMNS[counter]}"`);
  const added = columns.map((column) => `${column} = "usage_hold".${column} + EXCLUDED.${column}`);
  // A hold left by an earlier attempt with this id (its release failed) is added to, not lost:
  // the counter holds both shares, and the insert's delete takes both.
  const rows = await manager.query<{ scope: string }[]>(
    `WITH taken AS (
       UPDATE "resource_usage" SET ${set.join(', ')} WHERE ${where.join(' AND ')} RETURNING "scope"
     )
     INSERT INTO "usage_hold" ("sandbox_id", "scope", ${columns.join(', ')}, "created_at")
     SELECT $1, taken."scope", ${amounts.join(', ')}, $3 FROM taken
     ON CONFLICT ("sandbox_id", "scope") DO UPDATE SET ${added.join(', ')}
     RETURNING "scope"`,
    params,
  );
  return rows.length === 1;
}

/**
 * Deletes the holds of `sandboxId` inside the insert's transaction and returns their scopes: the
 * share moves from the hold to the row. A scope missing here was expired (the create took over
 * HOLD_TTL_MS), so the insert must reserve it again itself.
 */
export async function consumeHolds(tx: EntityManager, sandboxId: string): Promise<Set<string>> {
  const deleted = await tx
    .createQueryBuilder()
    .delete()
    .from(UsageHoldEntity)
    .where('"sandbox_id" = :sandboxId', { sandboxId })
    .returning(['scope'])
    .execute();
  const raw = deleted.raw as { scope: string }[];
  return new Set(raw.map((row) => row.scope));
}

/**
 * Gives back the holds of `sandboxId` (its insert failed): each deleted hold, and only a deleted
 * one, is taken off its counter, so a release that runs twice, or after the reconcile pass
 * expired the hold, takes nothing off twice.
 */
export async function releaseHolds(
  manager: EntityManager,
  sandboxId: string,
  now: number,
): Promise<void> {
  await manager.transaction(async (tx) => {
    const deleted = await tx
      .createQueryBuilder()
      .delete()
      .from(UsageHoldEntity)
      .where('"sandbox_id" = :sandboxId', { sandboxId })
      .returning('*')
      .execute();
    const holds = deleted.raw as Record<string, string | number>[];
    await applyUsageDeltas(
      tx,
      holds.map((hold) => [String(hold.scope), sumUsage(ZERO_USAGE, amountsOfRaw(hold), -1)]),
      now,
    );
  });
}

/** A hold as RETURNING * gives it (column names, int8 as strings): its amounts. */
function amountsOfRaw(raw: Record<string, string | number>): UsageAmounts {
  const amounts = { ...ZERO_USAGE };
  for (const counter of COUNTERS) amounts[counter] = Number(raw[USAGE_COLUMNS[counter]]);
  return amounts;
}
