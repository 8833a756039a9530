import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ApiKeyAuthenticator, AuthPolicy } from '@app/auth';
import { ANONYMOUS_ACTOR, CodedError } from '@app/domain';
import { ACCESS_METADATA, AccessLevel, KEY_HEADER_METADATA } from './access.decorator';
import type { ActorRequest } from './request-actor.decorator';

/**
 * The global guard of the HTTP API (every /v1 route and ROCK's routes): authenticates the request
 * with the authenticator every edge shares, refuses a tenant key on admin routes (403 FORBIDDEN)
 * and sets `request.actor` on every request it passes (read by @RequestActor()), ANONYMOUS_ACTOR
 * when auth is off or the route is open. What it throws is answered by the ErrorFilter: 401 with WWW-Authenticate, 429
 * with Retry-After, and ROCK's envelope under ROCK's prefix.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: ApiKeyAuthenticator,
    private readonly policy: AuthPolicy,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<ActorRequest>();
    const level = this.levelOf(context, request);
    if (level === 'open') {
      request.actor = ANONYMOUS_ACTOR;
      return true;
    }
    const keyHeader = this.reflector.get<string | undefined>(
      KEY_HEADER_METADATA,
      context.getClass(),
    );
    const actor = await this.authenticator.authenticate(
      request.headers,
      request.socket.remoteAddress,
      keyHeader,
    );
    if (level === 'admin' && actor.kind === 'tenant') {
      throw new CodedError(
        'FORBIDDEN',
        'this route takes the admin key; a tenant key may not use it',
      );
    }
    request.actor = actor;
    return true;
  }

  private levelOf(context: ExecutionContext, request: Request): Exclude<AccessLevel, 'metrics'> {
    const declared =
      this.reflector.getAllAndOverride<AccessLevel | undefined>(ACCESS_METADATA, [
        context.getHandler(),
        context.getClass(),
      ]) ?? 'key';
    // Whatever a controller declares, the admin prefix is the admin's (Express matches it in
    // any case, so the route's pattern is compared, lower-cased).
    if (isAdminRoute(request)) return 'admin';
    if (declared === 'metrics') return this.policy.metricsPublic ? 'open' : 'admin';
    return declared;
  }
}

function isAdminRoute(request: Request): boolean {
  const route: unknown = (request.route as { path?: unknown } | undefined)?.path;
  const path = (typeof route === 'string' ? route : request.path).toLowerCase();
  return path === '/v1/admin' || path.startsWith('/v1/admin/');
}
