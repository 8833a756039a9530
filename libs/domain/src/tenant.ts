import type { Actor } from './actor';
import { CodedError, validationError } from './coded-error';

/**
 * Tenants: the unit API keys belong to. A tenant is not registered anywhere: it exists by having
 * keys, sandboxes or limits. Its name is what keys, sandboxes and limits store, so the rule is
 * one, here: 1-64 lower-case letters, digits, `_` and `-`, starting with a letter or digit
 * (lower-case only, so `Team-A` and `team-a` can never be two tenants that read alike).
 */
export const TENANT_NAME_MAX_LENGTH = 64;
export const TENANT_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const TENANT_NAME_RULE =
  'must be 1-64 lower-case letters, digits, _ or -, starting with a letter or digit';

export function isTenantName(value: unknown): value is string {
  return typeof value === 'string' && TENANT_NAME_PATTERN.test(value);
}

/** `value` as a tenant name, or VALIDATION_FAILED naming `field`. */
export function tenantNameOf(value: unknown, field = 'tenant'): string {
  if (!isTenantName(value)) throw validationError(field, TENANT_NAME_RULE);
  return value;
}

/**
 * A tenant's limits on what it holds at once; null is no limit. They bound every sandbox that is
 * not deleted (a stopped one keeps its share, since a restart brings it back without asking).
 */
export interface TenantLimits {
  maxSandboxes: number | null;
  maxCpus: number | null;
  maxMemoryBytes: number | null;
}

export const NO_TENANT_LIMITS: Readonly<TenantLimits> = Object.freeze({
  maxSandboxes: null,
  maxCpus: null,
  maxMemoryBytes: null,
});

/** What a tenant holds now: the sandboxes its limits count, and how many of them are live. */
export interface TenantUsage {
  /** Sandboxes that are not deleted (pending, running, stopped). */
  sandboxes: number;
  /** Of those, the pending and running ones. */
  liveSandboxes: number;
  /** Sum of their CPU limits. */
  cpus: number;
  /** Sum of their memory limits, in bytes. */
  memoryBytes: number;
}

/**
 * The tenant whose sandboxes alone `actor` may reach, or null when it may reach every sandbox
 * (the admin, an anonymous caller while auth is off, sandboxd itself). A tenant actor without a
 * tenant is a bug of whoever built it: refused loudly rather than read as "every tenant".
 */
export function scopeTenantOf(actor: Actor): string | null {
  if (actor.kind !== 'tenant') return null;
  if (actor.tenant === null || actor.tenant === '') {
    throw new CodedError('INTERNAL_ERROR', 'a tenant actor must name its tenant');
  }
  return actor.tenant;
}

/** Whether `actor` may see a sandbox of `tenant` (null: a tenant-less one). */
export function actorSees(actor: Actor, tenant: string | null): boolean {
  const scope = scopeTenantOf(actor);
  return scope === null || scope === tenant;
}

/** Only the admin (or anyone while auth is off) manages tenants: FORBIDDEN for a tenant key. */
export function requireAdmin(actor: Actor, what: string): void {
  if (actor.kind === 'tenant') {
    throw new CodedError('FORBIDDEN', `${what} needs the admin key; a tenant key may not`, {});
  }
}
