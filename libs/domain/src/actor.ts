/**
 * Who caused a change: a tenant's API key, the admin key, an unauthenticated caller (auth off:
 * one-user development mode), or sandboxd itself (the scheduler's deadlines, the reconciler,
 * recovery at boot). Every history entry and every event names one. Flat and JSON-plain, because
 * it is stored in the history and sent in events as it is.
 */
export const ACTOR_KINDS = ['system', 'admin', 'tenant', 'anonymous'] as const;
export type ActorKind = (typeof ACTOR_KINDS)[number];

export interface Actor {
  kind: ActorKind;
  /** The tenant a tenant key belongs to; null for the other kinds. */
  tenant: string | null;
  /** The id of the API key (never the key); null for system and anonymous. */
  keyId: string | null;
}

/** sandboxd's own work: deadline scans, the reconciler, recovery of interrupted work. */
export const SYSTEM_ACTOR: Actor = Object.freeze({ kind: 'system', tenant: null, keyId: null });

/** A caller while auth is off (no ADMIN_API_KEY on a loopback HOST): it may do everything. */
export const ANONYMOUS_ACTOR: Actor = Object.freeze({
  kind: 'anonymous',
  tenant: null,
  keyId: null,
});
