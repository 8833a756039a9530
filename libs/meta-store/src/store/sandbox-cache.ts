import { KeyValueStore } from '../kv/key-value-store';
import { pickSandboxInfoFields } from '../sandbox-info';
import type { SandboxInfo } from '../sandbox-info';
import { aliveKey, legacyTimeoutKey } from './cache-keys';
import { infoShape } from './info-shape';

/**
 * The hot cache of live sandboxes. Everything written passes through pickSandboxInfoFields, so a
 * DB-only field (spec, machine snapshot, env values) can never reach Redis. A missing or unreadable
 * entry is a miss: the DB is the truth and callers fall back to it.
 */
export class SandboxCache {
  constructor(private readonly kv: KeyValueStore) {}

  /**
   * The cached info, or null when absent, corrupt or incomplete (never trusted half-written). An
   * entry written by a version that predates a field counts as incomplete: the caller falls back
   * to the database, which fills in the field's default.
   */
  async readAlive(sandboxId: string): Promise<SandboxInfo | null> {
    const parsed = parseObject(await this.kv.get(aliveKey(sandboxId)));
    if (parsed === null) return null;
    const shape = infoShape(parsed);
    if (shape === 'incomplete') return null;
    // Holding exactly the fields writeAlive stores, the parsed object is the info itself.
    const info = (shape === 'exact' ? parsed : pickSandboxInfoFields(parsed)) as SandboxInfo;
    return info.id === sandboxId ? info : null;
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
