import { ACTOR_KINDS, ANONYMOUS_ACTOR } from '@app/domain';
import type { Actor } from '@app/domain';

/**
 * Who an HTTP request is for, as the auth guard left it on the request (`request.actor`); the
 * anonymous caller when there is none (auth off). The app's own controllers take it with
 * `@RequestActor()`; an extension's controllers, which cannot import the app, read it with this
 * (the same rule, checked field by field since the request is untyped here).
 */
export function actorOfRequest(request: object): Actor {
  const actor = (request as { actor?: Partial<Actor> }).actor;
  if (
    actor === undefined ||
    typeof actor !== 'object' ||
    !(ACTOR_KINDS as readonly unknown[]).includes(actor.kind)
  ) {
    return ANONYMOUS_ACTOR;
  }
  return {
    kind: actor.kind as Actor['kind'],
    tenant: typeof actor.tenant === 'string' ? actor.tenant : null,
    keyId: typeof actor.keyId === 'string' ? actor.keyId : null,
  };
}
