import { KeyValueStore } from '../kv/key-value-store';
import { pickSandboxInfoFields } from '@app/domain';
import type { SandboxInfo } from '@app/domain';
import { cachedInfoOf } from '../stored-sandbox-schema';
import { aliveKey, legacyTimeoutKey } from './cache-keys';

/**
 * The hot cache of live sandboxes. Everything written passes through pickSandboxInfoFields, so a
 * DB-only field (spec, machine snapshot, env values) can never reach Redis. A missing or unreadable
 * entry is a miss: the DB is the truth and callers fall back to it.
 */
export class SandboxCache {
  constructor(private readonly kv: KeyValueStore) {}

  /**
   * The cached info, or null when absent or not a valid info of this sandbox (checked against the
   * info schema); an invalid entry is evicted, and the caller falls back to the database.
   */
  async readAlive(sandboxId: string): Promise<SandboxInfo | null> {
    const raw = await this.kv.get(aliveKey(sandboxId));
    if (raw === null) return null;
    const info = cachedInfoOf(parseObject(raw), sandboxId);
    if (info === null) await this.evictAlive(sandboxId);
    return info;
  }

  async writeAlive(sandboxId: string, info: object): Promise<void> {
    await this.kv.set(aliveKey(sandboxId), JSON.stringify(pickSandboxInfoFields(info)));
  }

  /** Read-merge-write: the patch on top of the cached value, or of `fallback` after a cache loss. */
  async mergeAlive(
    sandboxId: string,
    patch: Partial<SandboxInfo>,
    fallback: SandboxInfo,
  ): Promise<void> {
    const cached = await this.readAlive(sandboxId);
    await this.writeAlive(sandboxId, { ...(cached ?? fallback), ...pickSandboxInfoFields(patch) });
  }

  /** Removes the sandbox's entry (and the legacy timeout key an older version may have left). */
  async evict(sandboxId: string): Promise<void> {
    await this.kv.del(aliveKey(sandboxId), legacyTimeoutKey(sandboxId));
  }

  async evictAlive(sandboxId: string): Promise<void> {
    await this.kv.del(aliveKey(sandboxId));
  }

  ping(): Promise<void> {
    return this.kv.ping();
  }
}

function parseObject(raw: string | null): object | null {
  if (raw === null) return null;
  try {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? parsed : null;
  } catch {
    return null;
  }
}
