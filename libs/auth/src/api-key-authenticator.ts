import type { IncomingHttpHeaders } from 'node:http';
import { Injectable } from '@nestjs/common';
import { ClusterConfig } from '@app/config';
import { CLUSTER_HEADERS, decodeActor, isClusterSecret } from '@app/cluster';
import { ANONYMOUS_ACTOR, Actor, CodedError } from '@app/domain';
import { digestOf, sameDigest } from './api-key-format';
import { ApiKeyVerifier } from './api-key-verifier';
import { ADMIN_ACTOR, tenantActor } from './actors';
import { AuthPolicy } from './auth-policy';
import { clientKeyOf } from './client-address';
import { FailedAuthLimiter } from './failed-auth-limiter';
import { presentedKeyOf } from './presented-key';

/** How a client learns what to send: the text of every 401. */
const HOW = 'send an API key as "Authorization: Bearer <key>" or "X-API-Key: <key>"';

/**
 * Who a request is: the one implementation every edge shares (the API's guard, the E2B control
 * plane, ROCK's routes through the guard). With auth off it is the anonymous caller, who may do
 * everything. With auth on it is the admin (ADMIN_API_KEY) or a tenant's key, and anything else
 * is UNAUTHENTICATED (401): no key, a malformed one (overlong, binary, two different ones), an
 * unknown, revoked or wrong one. Only a failure counts against the client's address
 * (FailedAuthLimiter), and an address over the limit is AUTH_RATE_LIMITED (429). Never logs a
 * presented key.
 */
@Injectable()
export class ApiKeyAuthenticator {
  constructor(
    private readonly policy: AuthPolicy,
    private readonly verifier: ApiKeyVerifier,
    private readonly limiter: FailedAuthLimiter,
    private readonly cluster: ClusterConfig,
  ) {}

  /**
   * `fallbackHeader`: the edge's protocol has a key header of its own (ROCK's `X-Key`), read when
   * neither of ours is sent (presentedKeyOf).
   */
  async authenticate(
    headers: IncomingHttpHeaders,
    clientAddress: string | undefined,
    fallbackHeader?: string,
  ): Promise<Actor> {
    if (!this.policy.enabled) return ANONYMOUS_ACTOR;
    const forwarded = this.forwardedActor(headers);
    if (forwarded !== null) return forwarded;
    const client = clientKeyOf(clientAddress);
    this.limiter.assertNotBlocked(client);
    const outcome = await this.identify(headers, fallbackHeader);
    if (typeof outcome !== 'string') return outcome;
    await this.limiter.recordFailure(client);
    const how = fallbackHeader === undefined ? HOW : `${HOW} or "${fallbackHeader}: <key>"`;
    throw new CodedError('UNAUTHENTICATED', `${outcome}: ${how}`);
  }

  /**
   * Who the request is, or null when its key would be refused; a failure is not counted here (the
   * guard that refuses the request counts it). For the cluster's forwarding, which must know the
   * caller before the guard runs to find the sandbox it names.
   */
  async peek(headers: IncomingHttpHeaders, fallbackHeader?: string): Promise<Actor | null> {
    if (!this.policy.enabled) return ANONYMOUS_ACTOR;
    const forwarded = this.forwardedActor(headers);
    if (forwarded !== null) return forwarded;
    const outcome = await this.identify(headers, fallbackHeader);
    return typeof outcome === 'string' ? null : outcome;
  }

  /**
   * Cluster mode: a call another instance forwarded, with the cluster secret, is for the actor
   * that instance authenticated (its key was checked there, against the same database). Without
   * the secret the headers are ignored, and the request is authenticated like any other.
   */
  private forwardedActor(headers: IncomingHttpHeaders): Actor | null {
    if (!this.cluster.enabled) return null;
    if (!isClusterSecret(this.cluster.secret, headers[CLUSTER_HEADERS.secret])) return null;
    return decodeActor(headers[CLUSTER_HEADERS.actor]);
  }

  /** The actor, or why there is none. */
  private async identify(
    headers: IncomingHttpHeaders,
    fallbackHeader: string | undefined,
  ): Promise<Actor | string> {
    const presented = presentedKeyOf(headers, fallbackHeader);
    if (presented.kind === 'none') return 'no API key';
    if (presented.kind === 'malformed') return `malformed API key (${presented.problem})`;
    const digest = digestOf(presented.key);
    const admin = this.policy.adminKeyDigest;
    if (admin !== null && sameDigest(digest, admin)) return ADMIN_ACTOR;
    const record = await this.verifier.verify(presented.key, digest);
    if (record === null) return 'the API key is not valid (unknown, revoked or mistyped)';
    return tenantActor(record.tenant, record.id);
  }
}
