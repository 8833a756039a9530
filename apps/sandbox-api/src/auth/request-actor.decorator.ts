import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { ANONYMOUS_ACTOR } from '@app/domain';
import type { Actor } from '@app/domain';

/** A request as the auth guard leaves it: `actor` is who presented the key. */
export type ActorRequest = Request & { actor?: Actor };

/**
 * Who is calling, as the global auth guard found it (`request.actor`: the tenant key's or the
 * admin key's Actor). Without one, auth is off (no ADMIN_API_KEY on a loopback HOST: one-user
 * development mode, where the guard lets every request through) and the caller is anonymous,
 * which may do everything. With auth on, the guard answers 401 before a handler runs for any
 * request it could not give an actor, so a handler never sees an anonymous caller then.
 */
export function actorOf(request: ActorRequest): Actor {
  return request.actor ?? ANONYMOUS_ACTOR;
}

export const RequestActor = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Actor =>
    actorOf(context.switchToHttp().getRequest<ActorRequest>()),
);
