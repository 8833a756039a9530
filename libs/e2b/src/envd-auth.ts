import { createHash, timingSafeEqual } from 'node:crypto';
import { Code, ConnectError, Interceptor } from '@connectrpc/connect';
import { isCodedError } from '@app/domain';
import { SandboxAccessTokens, SandboxService, stateHasTag } from '@app/sandbox';
import { ENVD_ACTOR } from './e2b-caller';
import { connectErrorOf } from './e2b-errors';
import { sandboxIdOf } from './envd-request';

/** Sandboxes whose token digest this process keeps, so a data-plane call costs no store read. */
const MAX_KNOWN = 10_000;

/** What a signed /files URL carries (the SDK's downloadUrl and uploadUrl). */
export interface SignedFileRequest {
  /** The `path` query parameter as sent (what the SDK signed, before any resolving). */
  path: string;
  operation: 'read' | 'write';
  /** The `username` query parameter, or '' when none was sent. */
  user: string;
  signature: string | null;
  /** `signature_expiration`, in Unix seconds, as sent. */
  expiration: string | null;
}

/**
 * envd's access check, per sandbox: every Connect call and /files request carries the sandbox's
 * envdAccessToken in X-Access-Token (a /files URL may carry a v1 signature instead), and anything
 * else is refused as `unauthenticated` (401 on /files), which the SDK types as AuthenticationError.
 * A sandbox made open (`secure: false`) takes any call. Tokens are compared as SHA-256 digests in
 * constant time; this process keeps only the digests, never a token.
 */
export class EnvdAuth {
  /** Sandbox id → the digest of its token, or null for an open sandbox. Tokens never change. */
  private readonly known = new Map<string, Buffer | null>();

  constructor(
    private readonly tokens: SandboxAccessTokens,
    private readonly sandboxes: SandboxService,
  ) {}

  /** A Connect interceptor that checks every call before its handler runs. */
  interceptor(): Interceptor {
    return (next) => async (req) => {
      const get = (name: string) => req.header.get(name);
      await this.check(sandboxIdOf(get), get('x-access-token'));
      return next(req);
    };
  }

  /** Resolves when `presented` opens the sandbox's data plane; throws a ConnectError otherwise. */
  async check(sandboxId: string, presented: string | null): Promise<void> {
    const digest = await this.digestOf(sandboxId);
    if (digest === null) return;
    if (!presented) {
      throw unauthenticated(`the X-Access-Token header is missing (sandbox ${sandboxId})`);
    }
    if (!timingSafeEqual(sha256(presented), digest)) {
      throw unauthenticated(`the access token is not the one of sandbox ${sandboxId}`);
    }
  }

  /**
   * A /files request: X-Access-Token when it is sent (and then it must match, as envd checks it),
   * else a v1 signature of the path, operation, user and token, unexpired.
   */
  async checkFiles(
    sandboxId: string,
    presented: string | null,
    signed: SignedFileRequest,
  ): Promise<void> {
    if (presented || !signed.signature) return this.check(sandboxId, presented);
    if ((await this.digestOf(sandboxId)) === null) return;
    // The signature needs the token itself: read it (signed URLs are rare; nothing is kept).
    const token = (await this.tokens.find(sandboxId))?.token;
    if (!token) throw unauthenticated(`sandbox ${sandboxId} has no access token`);
    // Digests of both, so the comparison takes as long whatever the signature's length.
    if (!timingSafeEqual(sha256(signed.signature), sha256(signatureOf(signed, token)))) {
      throw unauthenticated('the signature does not match');
    }
    if (signed.expiration !== null) {
      const expires = /^\d{1,15}$/.test(signed.expiration) ? Number(signed.expiration) : 0;
      if (expires < Date.now() / 1000) throw unauthenticated('the signature has expired');
    }
  }

  private async digestOf(sandboxId: string): Promise<Buffer | null> {
    const cached = this.known.get(sandboxId);
    if (cached !== undefined) return cached;
    let stored;
    try {
      stored = await this.tokens.find(sandboxId);
    } catch (error) {
      throw connectErrorOf(error);
    }
    if (stored === null) throw await this.refusalWithoutToken(sandboxId);
    const digest = stored.token === null ? null : sha256(stored.token);
    if (this.known.size >= MAX_KNOWN) {
      const oldest = this.known.keys().next().value;
      if (oldest !== undefined) this.known.delete(oldest);
    }
    this.known.set(sandboxId, digest);
    return digest;
  }

  /**
   * No token was issued: the sandbox is not there (unavailable, as a dead sandbox behind E2B's
   * proxy), or it was made through sandboxd's own API and never connected through E2B's.
   */
  private async refusalWithoutToken(sandboxId: string): Promise<ConnectError> {
    try {
      const info = await this.sandboxes.get(ENVD_ACTOR, sandboxId);
      if (stateHasTag(info, 'container-gone')) return gone(sandboxId);
    } catch (error) {
      if (isCodedError(error, 'SANDBOX_NOT_FOUND')) return gone(sandboxId);
      return connectErrorOf(error);
    }
    return unauthenticated(
      `sandbox ${sandboxId} has no E2B access token yet: connect to it through the E2B API first (Sandbox.connect)`,
    );
  }
}

/** `v1_` + base64(SHA-256 of "path:operation:user:token[:expiration]"), unpadded, as the SDK signs. */
function signatureOf(signed: SignedFileRequest, token: string): string {
  const parts = [signed.path, signed.operation, signed.user, token];
  if (signed.expiration !== null) parts.push(signed.expiration);
  const digest = createHash('sha256').update(parts.join(':'), 'utf8').digest('base64');
  return `v1_${digest.replace(/=+$/, '')}`;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function unauthenticated(message: string): ConnectError {
  return new ConnectError(message, Code.Unauthenticated);
}

function gone(sandboxId: string): ConnectError {
  return new ConnectError(`sandbox ${sandboxId} not found`, Code.Unavailable);
}
