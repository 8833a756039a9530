import type { Actor } from '@app/domain';

/** The bootstrap admin key (ADMIN_API_KEY): it has no row, so its id is this fixed word. */
export const ADMIN_ACTOR: Actor = Object.freeze({ kind: 'admin', tenant: null, keyId: 'admin' });

export function tenantActor(tenant: string, keyId: string): Actor {
  return { kind: 'tenant', tenant, keyId };
}
