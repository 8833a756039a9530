import { timingSafeEqual } from 'node:crypto';
import { ACTOR_KINDS, isTenantName } from '@app/domain';
import type { Actor } from '@app/domain';

/**
 * The headers of a call from one instance to another (CLUSTER=swarm). The secret proves the
 * caller is an instance of the cluster; only then is the actor believed, so the owner scopes the
 * call to the tenant that made it (whose key the forwarding instance checked).
 */
export const CLUSTER_HEADERS = {
  secret: 'x-sandboxd-cluster-secret',
  actor: 'x-sandboxd-actor',
} as const;

/** Whether `presented` is the cluster secret; compared in constant time. */
export function isClusterSecret(secret: string | null, presented: unknown): boolean {
  if (secret === null || typeof presented !== 'string') return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The actor as a header value: base64url JSON, so no character of it can break the header. */
export function encodeActor(actor: Actor): string {
  const plain = { kind: actor.kind, tenant: actor.tenant, keyId: actor.keyId };
  return Buffer.from(JSON.stringify(plain)).toString('base64url');
}

/** The actor of an `x-sandboxd-actor` header, or null when it is not one encodeActor made. */
export function decodeActor(value: unknown): Actor | null {
  if (typeof value !== 'string' || value.length > 1024) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const { kind, tenant, keyId } = parsed as Record<string, unknown>;
  if (!ACTOR_KINDS.includes(kind as Actor['kind'])) return null;
  if (tenant !== null && !(typeof tenant === 'string' && isTenantName(tenant))) return null;
  if (keyId !== null && typeof keyId !== 'string') return null;
  // A tenant actor without its tenant would be scoped to nothing; refuse the shape outright.
  if ((kind === 'tenant') !== (tenant !== null)) return null;
  return { kind: kind as Actor['kind'], tenant, keyId };
}
