import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { Request } from 'express';
import { from, mergeMap, Observable } from 'rxjs';
import { openInstanceCall } from '@app/cluster';
import type { ForwardTarget } from '@app/cluster';
import { Actor } from '@app/domain';
import { SandboxRouting } from '@app/sandbox';
import type { ActorRequest } from '../auth/request-actor.decorator';
import { ownerEnvelope } from './owner-envelope';

/**
 * Cluster mode, ROCK's routes: a call whose `sandbox_id` (body, or query of the GETs) names a
 * sandbox on another node is answered by that node's instance, and its envelope is this route's
 * answer (ROCK answers every call with HTTP 200 and a JSON envelope, so the envelope is the whole
 * answer). After the guard, so the caller is known; the body is already parsed. An upload's
 * multipart body is not parsed yet here: uploads are answered by the receiving instance, which
 * refuses one for another node's sandbox with NODE_UNAVAILABLE.
 */
@Injectable()
export class RockForwardingInterceptor implements NestInterceptor {
  constructor(private readonly routing: SandboxRouting) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (!this.routing.enabled || context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<ActorRequest>();
    if (this.routing.isForwarded(request.headers)) return next.handle();
    const owner = this.ownerOf(request);
    return from(owner).pipe(
      mergeMap((target) =>
        target === null ? next.handle() : from(this.forward(request, request.actor!, target)),
      ),
    );
  }

  private async ownerOf(request: ActorRequest): Promise<ForwardTarget | null> {
    const id = sandboxIdOf(request);
    if (id === null || request.actor === undefined) return null;
    return this.routing.ownerFor(request.actor, id, 'api');
  }

  private async forward(request: Request, actor: Actor, owner: ForwardTarget): Promise<unknown> {
    const body = request.method === 'GET' ? null : Buffer.from(JSON.stringify(request.body ?? {}));
    const response = await openInstanceCall(
      owner,
      request.method,
      request.originalUrl,
      {
        ...this.routing.headersFor(actor),
        ...(body === null
          ? {}
          : { 'content-type': 'application/json', 'content-length': body.length }),
      },
      { connectMs: this.routing.connectTimeoutMs, totalMs: null },
      (sink) => (body === null ? sink.end() : sink.end(body)),
    );
    return ownerEnvelope(response, owner);
  }
}

/** The `sandbox_id` a ROCK call names: in the JSON body, or the query of a GET. */
function sandboxIdOf(request: Request): string | null {
  const source: unknown = request.method === 'GET' ? request.query : request.body;
  if (typeof source !== 'object' || source === null) return null;
  const id = (source as Record<string, unknown>).sandbox_id;
  return typeof id === 'string' && id !== '' ? id : null;
}
