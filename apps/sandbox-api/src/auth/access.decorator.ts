import { SetMetadata, applyDecorators } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';

/**
 * Who may call a route, on a handler or a whole controller; a route without one needs a key (any
 * tenant's or the admin's), so a new route is never open by mistake:
 *  - `open`: anyone (health probes); Swagger UI shows it without a lock.
 *  - `admin`: the admin key only; a tenant key is FORBIDDEN (403). Every /v1/admin route is
 *    admin whatever it declares (ApiKeyGuard).
 *  - `metrics`: `admin`, or `open` with METRICS_PUBLIC=true.
 * The level is in the OpenAPI document too, as `x-sandboxd-access`.
 */
export const ACCESS_LEVELS = ['open', 'key', 'admin', 'metrics'] as const;
export type AccessLevel = (typeof ACCESS_LEVELS)[number];

export const ACCESS_METADATA = 'sandboxd:access';
export const ACCESS_EXTENSION = 'x-sandboxd-access';

export function Access(level: AccessLevel): ClassDecorator & MethodDecorator {
  return applyDecorators(
    SetMetadata(ACCESS_METADATA, level),
    ApiExtension(ACCESS_EXTENSION, level),
  );
}

export const KEY_HEADER_METADATA = 'sandboxd:key-header';

/**
 * A compatibility controller's own key header (ROCK's `X-Key`), taken when neither
 * `Authorization` nor `X-API-Key` is sent, so the protocol's clients pass the key the way they
 * already do.
 */
export function KeyHeader(name: string): ClassDecorator {
  return SetMetadata(KEY_HEADER_METADATA, name);
}
