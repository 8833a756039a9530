import { EntityManager } from 'typeorm';
import type { NewSandboxEvent, SandboxEventRecord } from '@app/domain';
import { SandboxEventEntity } from '../db/entities/sandbox-event.entity';

/**
 * The key of the transaction-scoped advisory lock under which PostgreSQL writes events: a
 * sequence hands ids out in the order transactions ask, not the order they commit, so without it
 * a reader at `after=6` could later miss a 5 that committed late. Taken by the events' INSERT and
 * held to the COMMIT only (the sandbox row is written first), so writers queue for two round
 * trips each.
 */
export const EVENT_LOG_LOCK_KEY = 0x53424556;

/**
 * Appends the events to the log inside the caller's transaction (`tx`), in order, and returns
 * them with their ids. Nothing here commits: they land with the change they describe, or not at
 * all.
 */
export async function insertEvents(
  tx: EntityManager,
  events: readonly NewSandboxEvent[],
): Promise<SandboxEventRecord[]> {
  if (events.length === 0) return [];
  const ids =
    tx.connection.options.type === 'postgres'
      ? await insertLockedPostgres(tx, events)
      : await insertOneByOne(tx, events);
  return events.map((event, i) => ({ id: ids[i], ...event }));
}

/**
 * One statement: the lock, then every row, so the lock is held for this round trip and the
 * COMMIT's only (every event-writing transaction of every replica queues on it). The lock is a
 * volatile function in a CTE, so PostgreSQL evaluates it once, before the join yields a row and
 * so before any row's id is drawn. The rows are inserted in `ord` order, so their ids rise in it.
 */
async function insertLockedPostgres(
  tx: EntityManager,
  events: readonly NewSandboxEvent[],
): Promise<string[]> {
  const params: unknown[] = [EVENT_LOG_LOCK_KEY];
  const rows = events.map((event, i) => {
    params.push(i, event.type, event.sandboxId, event.tenant, Date.parse(event.at));
    params.push(JSON.stringify(event));
    const p = params.length - 5;
    return `($${p}::int, $${p + 1}::varchar, $${p + 2}::varchar, $${p + 3}::varchar, $${p + 4}::bigint, $${p + 5}::text)`;
  });
  const returned = await tx.query<{ id: string | number }[]>(
    `WITH event_log_lock AS (SELECT pg_advisory_xact_lock($1))
     INSERT INTO "sandbox_event" ("type", "sandbox_id", "tenant", "at", "payload")
     SELECT v.type, v.sandbox_id, v.tenant, v.at, v.payload
       FROM event_log_lock, (VALUES ${rows.join(', ')}) AS v(ord, type, sandbox_id, tenant, at, payload)
      ORDER BY v.ord
     RETURNING "id"`,
    params,
  );
  // RETURNING's order is not promised; the ids were drawn in `ord` order, so sorted they match.
  return returned
    .map((row) => BigInt(row.id))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map(String);
}

/** SQLite: one writer at a time already (DbGate), so ids are committed in order without a lock. */
async function insertOneByOne(
  tx: EntityManager,
  events: readonly NewSandboxEvent[],
): Promise<string[]> {
  const ids: string[] = [];
  for (const event of events) {
    const result = await tx.insert(SandboxEventEntity, {
      type: event.type,
      sandboxId: event.sandboxId,
      tenant: event.tenant,
      at: Date.parse(event.at),
      payload: JSON.stringify(event),
    });
    ids.push(String((result.identifiers[0] as { id?: unknown } | undefined)?.id));
  }
  return ids;
}

/** A stored row as the event it holds. */
export function eventOfRow(row: { id: number | string; payload: string }): SandboxEventRecord {
  const event = JSON.parse(row.payload) as NewSandboxEvent;
  return { id: String(row.id), ...event };
}
