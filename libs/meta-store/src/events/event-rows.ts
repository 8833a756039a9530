import { EntityManager } from 'typeorm';
import type { NewSandboxEvent, SandboxEventRecord } from '@app/domain';
import { SandboxEventEntity } from '../db/entities/sandbox-event.entity';

/**
 * The key of the transaction-scoped advisory lock under which PostgreSQL writes events: a
 * sequence hands ids out in the order transactions ask, not the order they commit, so without it
 * a reader at `after=6` could later miss a 5 that committed late. Held from the event's INSERT to
 * the COMMIT only (the sandbox row is written first), so writers queue for microseconds.
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
  if (tx.connection.options.type === 'postgres') {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [EVENT_LOG_LOCK_KEY]);
  }
  const written: SandboxEventRecord[] = [];
  for (const event of events) {
    const result = await tx.insert(SandboxEventEntity, {
      type: event.type,
      sandboxId: event.sandboxId,
      tenant: event.tenant,
      at: Date.parse(event.at),
      payload: JSON.stringify(event),
    });
    const id = (result.identifiers[0] as { id?: unknown } | undefined)?.id;
    written.push({ id: String(id), ...event });
  }
  return written;
}

/** A stored row as the event it holds. */
export function eventOfRow(row: { id: number | string; payload: string }): SandboxEventRecord {
  const event = JSON.parse(row.payload) as NewSandboxEvent;
  return { id: String(row.id), ...event };
}
