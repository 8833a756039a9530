import {
  Actor,
  eventViewOf,
  NewSandboxEvent,
  SandboxEventType,
  SandboxInfo,
  StopReason,
} from '@app/domain';
import type { HistoryEntry } from './sandbox.machine';

/** The machine's reason of a stop because the sandbox's cluster node was lost (NodeLoss). */
export const NODE_LOST_REASON = 'node-lost';

/** What one write of a machine run commits, besides the row: its new history and protection. */
export interface CommittedChange {
  /** The history entries this write adds (in order). */
  entries: readonly HistoryEntry[];
  /** Set when the write changes protection: who changed it, and when. */
  protection: { actor: Actor; at: string } | null;
}

/**
 * The events of one write, for the event log (written in the write's transaction): one per history
 * entry, in order, then one for a change of protection. `info` is the record as written, which
 * every event carries as its sandbox view.
 */
export function eventsOfChange(change: CommittedChange, info: SandboxInfo): NewSandboxEvent[] {
  const events = change.entries.flatMap((entry) => {
    const type = typeOfEntry(entry);
    if (type === null) return [];
    const stopped = type === 'sandbox.stopped';
    const failed = type === 'sandbox.failed';
    return [
      eventOf(type, entry.at, entry.actor, info, {
        reason: stopped ? stopReasonOf(entry) : null,
        detail: stopped || failed ? (entry.reason ?? null) : null,
      }),
    ];
  });
  if (change.protection !== null) {
    events.push(
      eventOf('sandbox.protection_changed', change.protection.at, change.protection.actor, info),
    );
  }
  return events;
}

/** The `sandbox.created` event of a record just inserted. */
export function createdEvent(info: SandboxInfo, actor: Actor): NewSandboxEvent {
  return eventOf('sandbox.created', info.createdAt, actor, info);
}

function eventOf(
  type: SandboxEventType,
  at: string,
  actor: Actor | undefined,
  info: SandboxInfo,
  extra: { reason: StopReason | null; detail: string | null } = { reason: null, detail: null },
): NewSandboxEvent {
  const by: Actor = actor ?? { kind: 'system', tenant: null, keyId: null };
  return {
    type,
    at,
    sandboxId: info.id,
    actor: { kind: by.kind, tenant: by.tenant, keyId: by.keyId },
    tenant: info.tenant,
    ...extra,
    sandbox: eventViewOf(info),
  };
}

/**
 * The event a history entry is, by the machine's vocabulary: entering running (`started`), a
 * restart asked (stopped → pending), entering stopped (a stop, a delete of a running sandbox, an
 * exit seen by the reconciler: `sandbox.stopped`; a create or restart that failed:
 * `sandbox.failed`), entering deleted. Anything else (a future entry) is no event.
 */
export function typeOfEntry(entry: HistoryEntry): SandboxEventType | null {
  if (entry.to === 'running') return 'sandbox.running';
  if (entry.to === 'deleted') return 'sandbox.deleted';
  if (entry.to === 'pending' && entry.event === 'restart') return 'sandbox.restarted';
  if (entry.to === 'stopped')
    return entry.event === 'startFailed' ? 'sandbox.failed' : 'sandbox.stopped';
  return null;
}

/**
 * The reason of a stop, from the machine's: `idle-timeout` and `max-lifetime` (the deadline scan),
 * an `exited` entry (the reconciler saw the container end: OOM when the engine says so; node loss
 * in cluster mode), and
 * everything a caller asked (`manual`, a delete of a running sandbox, a front door's own stop).
 */
export function stopReasonOf(entry: HistoryEntry): StopReason {
  if (entry.event === 'exited' && entry.reason === NODE_LOST_REASON) return 'node-lost';
  if (entry.event === 'exited') return /OOM/i.test(entry.reason ?? '') ? 'oom' : 'exited';
  if (entry.reason === 'idle-timeout') return 'idle';
  if (entry.reason === 'max-lifetime') return 'lifetime';
  return 'manual';
}
