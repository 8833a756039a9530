import type {
  NewSandboxEvent,
  SandboxEventRecord,
  SandboxInfo,
  SandboxRecord,
  SandboxSpec,
  SandboxState,
} from '@app/domain';
import type { ResourceReservation } from './usage-counters';

export interface IdempotencyInput {
  key: string;
  /** Hash of the request that used the key; a different request with the same key conflicts. */
  fingerprint: string;
}

export interface InsertSandboxInput {
  info: SandboxInfo;
  /** With env values in clear: the store seals them before writing (the record holds sealedEnv). */
  spec: SandboxSpec;
  machineSnapshot: unknown;
  machineVersion: string;
  idempotency?: IdempotencyInput;
  /** Appended to the event log in the insert's transaction (a replay writes none). */
  events?: readonly NewSandboxEvent[];
  /**
   * The limits the new row's share must fit, taken on the usage counters in the insert's
   * transaction (INSUFFICIENT_CAPACITY or TENANT_QUOTA_EXCEEDED, nothing written, when it does
   * not). Absent: the share is added without a check (the counters stay the truth).
   */
  reservation?: ResourceReservation;
}

export interface VersionedWriteOptions {
  /** The version the caller read; the write fails with CONCURRENT_MODIFICATION if it moved on. */
  expectedVersion: number;
  /** Replaces the stored machine snapshot; omitted (undefined) keeps it. */
  machineSnapshot?: unknown;
  /**
   * The record the caller holds at `expectedVersion`, when it has it (the lifecycle pipeline
   * always does): the write then skips reading the row back first. The UPDATE still checks the
   * version, so a writer in between is detected all the same.
   */
  current?: SandboxRecord;
  /**
   * The events this write commits, built from the info it writes: appended to the event log in
   * the same transaction as the row (the outbox), so they exist exactly when the change does.
   */
  events?: (info: SandboxInfo) => readonly NewSandboxEvent[];
  /**
   * Called with the events (and their ids) as soon as the database committed them, before the
   * cache steps, so a cache failure reported after the commit does not hide them.
   */
  onCommitted?: (events: readonly SandboxEventRecord[]) => void;
}

/**
 * Whose sandboxes a lookup may find. null: any sandbox by id, and a name among the tenant-less
 * sandboxes (the namespace of the admin key and of auth-off mode). A tenant name: that tenant's
 * sandboxes only, by id or by name (names are unique per tenant).
 */
export type TenantScope = string | null;

export interface ListSandboxesQuery {
  /**
   * Only this tenant's sandboxes; null only the tenant-less ones; absent: every tenant's.
   */
  tenant?: string | null;
  /** Only these states (an empty list means no state filter). */
  states?: SandboxState[];
  /** Every pair must match. */
  labels?: Record<string, string>;
  image?: string;
  /** Deleted sandboxes are hidden unless this is set or `states` names 'deleted'. */
  includeDeleted?: boolean;
  limit: number;
  /** From a previous page's nextCursor. */
  cursor?: string;
}

export interface SandboxPage {
  items: SandboxInfo[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

/** A sandbox's data-plane access token as stored (opened): null when the sandbox is open. */
export interface StoredAccessToken {
  token: string | null;
}
