import type { Actor } from './actor';
import type { SandboxInfo } from './sandbox-info';

/**
 * The lifecycle events sandboxd records, one per committed change, in the event log (the
 * `sandbox_event` table, written in the same transaction as the change: a transactional outbox).
 * Names are part of the API (webhooks, GET /v1/events): never renamed once released.
 */
export const SANDBOX_EVENT_TYPES = [
  'sandbox.created',
  'sandbox.running',
  'sandbox.stopped',
  'sandbox.restarted',
  'sandbox.deleted',
  'sandbox.failed',
  'sandbox.protection_changed',
] as const;
export type SandboxEventType = (typeof SANDBOX_EVENT_TYPES)[number];

export function isSandboxEventType(value: string): value is SandboxEventType {
  return (SANDBOX_EVENT_TYPES as readonly string[]).includes(value);
}

/** Why a sandbox stopped, as `sandbox.stopped` says it. */
/** `node-lost`: CLUSTER=swarm, the node holding it stopped reporting (NODE_LOST_SECONDS). */
export const STOP_REASONS = ['manual', 'idle', 'lifetime', 'exited', 'oom', 'node-lost'] as const;
export type StopReason = (typeof STOP_REASONS)[number];

/**
 * The sandbox as an event carries it: its info at the moment of the change, without the state
 * history (the event log is that history, and 100 entries in every event would be most of it).
 */
export type SandboxEventView = Omit<SandboxInfo, 'stateHistory'>;

/** One event as it is written: everything but the id, which the log assigns. */
export interface NewSandboxEvent {
  type: SandboxEventType;
  /** ISO instant of the change (the machine's stamp). */
  at: string;
  sandboxId: string;
  /** Who caused it. */
  actor: Actor;
  /** The tenant that owns the sandbox; null for none (auth off, or the admin's own sandboxes). */
  tenant: string | null;
  /** `sandbox.stopped` only: why; null for the other types. */
  reason: StopReason | null;
  /** `sandbox.stopped` and `sandbox.failed`: the words behind the reason (exit code, error). */
  detail: string | null;
  /**
   * The sandbox as the write that committed the event left it: a stop and the ephemeral delete
   * it triggers commit together, so both carry the deleted sandbox.
   */
  sandbox: SandboxEventView;
}

/** One event of the log. */
export interface SandboxEventRecord extends NewSandboxEvent {
  /**
   * Monotonic within one database, as a decimal string (it is a 64-bit sequence): later commits
   * have greater ids, so `after=<id>` never skips one committed late.
   */
  id: string;
}

/** The view of a sandbox an event carries. */
export function eventViewOf(info: SandboxInfo): SandboxEventView {
  const view: Partial<SandboxInfo> = { ...info };
  delete view.stateHistory;
  return view as SandboxEventView;
}
