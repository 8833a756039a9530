import { isUniqueViolation } from '../db/db-errors';
import { SandboxAccessTokenEntity } from '../db/entities/sandbox-access-token.entity';
import type { SecretsKeyring } from '../secrets/secrets-keyring';
import type { DbGate } from './db-gate';
import type { StoredAccessToken } from './meta-store.types';

/**
 * The SQL of the sandboxes' data-plane access tokens. A token is sealed before it is written and
 * opened when read: the database never holds one in clear. A row is written once and never
 * changed (its sandbox's delete removes it), so a reader may keep what it read.
 */
export class AccessTokenDb {
  constructor(
    private readonly gate: DbGate,
    private readonly keyring: SecretsKeyring,
  ) {}

  /** The sandbox's token, or null when none was issued. */
  find(sandboxId: string): Promise<StoredAccessToken | null> {
    return this.gate.run(async (manager) => {
      const row = await manager.findOneBy(SandboxAccessTokenEntity, { sandboxId });
      return row === null ? null : this.opened(row);
    });
  }

  /**
   * Stores `token` (null: the sandbox is open) unless the sandbox has one already; answers what is
   * stored, so concurrent issuers on any number of replicas all answer the first one's.
   */
  issue(sandboxId: string, token: string | null, now = Date.now()): Promise<StoredAccessToken> {
    return this.gate.run(async (manager) => {
      const existing = await manager.findOneBy(SandboxAccessTokenEntity, { sandboxId });
      if (existing !== null) return this.opened(existing);
      try {
        await manager.insert(SandboxAccessTokenEntity, {
          sandboxId,
          sealedToken: token === null ? null : this.keyring.sealAccessToken(sandboxId, token),
          createdAt: now,
        });
        return { token };
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        const winner = await manager.findOneByOrFail(SandboxAccessTokenEntity, { sandboxId });
        return this.opened(winner);
      }
    });
  }

  private opened(row: SandboxAccessTokenEntity): StoredAccessToken {
    return {
      token:
        row.sealedToken === null
          ? null
          : this.keyring.openAccessToken(row.sandboxId, row.sealedToken),
    };
  }
}
