import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { SandboxMetaStore } from '@app/meta-store';
import { notFound } from './sandbox-commands';
import { stateHasTag } from './sandbox.machine';

/** 256 random bits. */
const TOKEN_BYTES = 32;

/** A sandbox's data-plane access token: `token` null means the sandbox is open (no token). */
export interface SandboxAccessToken {
  token: string | null;
}

/**
 * Per-sandbox access tokens for a data plane that is not sandboxd's own API (E2B's envd): issued
 * once per sandbox, kept sealed in the database only, never in a record, the cache or a view.
 */
@Injectable()
export class SandboxAccessTokens {
  constructor(private readonly store: SandboxMetaStore) {}

  /**
   * The sandbox's token: a new random one (or none, when `open`) unless it has one already, in
   * which case that one, whatever `open` says. SANDBOX_NOT_FOUND for a sandbox that is not there.
   */
  async issue(
    sandboxId: string,
    { open = false }: { open?: boolean } = {},
  ): Promise<SandboxAccessToken> {
    const info = await this.store.get(sandboxId);
    // A deleted sandbox's container is gone for good: it takes no new token.
    if (info === null || info.id !== sandboxId || stateHasTag(info, 'container-gone')) {
      throw notFound(sandboxId);
    }
    return this.store.issueAccessToken(
      sandboxId,
      open ? null : randomBytes(TOKEN_BYTES).toString('hex'),
    );
  }

  /** The token issued to the sandbox, or null when none was (or the sandbox is deleted). */
  find(sandboxId: string): Promise<SandboxAccessToken | null> {
    return this.store.accessToken(sandboxId);
  }
}
