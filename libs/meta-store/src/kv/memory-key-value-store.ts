import { KeyValueStore } from './key-value-store';
import type { ScoredMember } from './key-value-store';
import { normalizeTtl } from './ttl';

type Entry =
  | { kind: 'string'; value: string; expiresAt: number | null }
  | { kind: 'zset'; members: Map<string, number> };

/**
 * In-process store for a single instance without Redis. Expiry is lazy (checked on access), which
 * is observably identical to Redis for callers and needs no timers to clean up.
 */
export class MemoryKeyValueStore extends KeyValueStore {
  private readonly entries = new Map<string, Entry>();

  get(key: string): Promise<string | null> {
    return settle(() => this.readString(key)?.value ?? null);
  }

  set(key: string, value: string, ttlMs?: number): Promise<void> {
    return settle(() => {
      this.entries.set(key, { kind: 'string', value, expiresAt: expiryOf(ttlMs) });
    });
  }

  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    return settle(() => {
      const expiresAt = expiryOf(ttlMs);
      if (this.live(key)) return false;
      this.entries.set(key, { kind: 'string', value, expiresAt });
      return true;
    });
  }

  del(...keys: string[]): Promise<number> {
    return settle(() => {
      let removed = 0;
      for (const key of keys) {
        if (this.live(key)) removed += 1;
        this.entries.delete(key);
      }
      return removed;
    });
  }

  compareAndDelete(key: string, expected: string): Promise<boolean> {
    return settle(() => {
      if (this.readString(key)?.value !== expected) return false;
      this.entries.delete(key);
      return true;
    });
  }

  compareAndExpire(key: string, expected: string, ttlMs: number): Promise<boolean> {
    return settle(() => {
      const expiresAt = expiryOf(ttlMs);
      const entry = this.readString(key);
      if (entry?.value !== expected) return false;
      entry.expiresAt = expiresAt;
      return true;
    });
  }

  zadd(key: string, score: number, member: string): Promise<void> {
    return settle(() => {
      this.zsetFor(key).set(member, score);
    });
  }

  zrem(key: string, member: string): Promise<boolean> {
    return settle(() => {
      const entry = this.readZset(key);
      if (!entry?.members.delete(member)) return false;
      // Redis removes a sorted set once its last member is gone.
      if (entry.members.size === 0) this.entries.delete(key);
      return true;
    });
  }

  zrangeByScore(key: string, max: number, limit: number): Promise<string[]> {
    return settle(() => this.rangeByScore(key, max, limit).map(({ member }) => member));
  }

  zrangeByScoreWithScores(key: string, max: number, limit: number): Promise<ScoredMember[]> {
    return settle(() => this.rangeByScore(key, max, limit));
  }

  zaddMany(
    key: string,
    entries: readonly ScoredMember[],
    options: { onlyLower?: boolean } = {},
  ): Promise<void> {
    return settle(() => {
      if (entries.length === 0) return;
      const members = this.zsetFor(key);
      for (const { member, score } of entries) {
        const current = members.get(member);
        if (options.onlyLower === true && current !== undefined && current <= score) continue;
        members.set(member, score);
      }
    });
  }

  zcompareAndSet(
    key: string,
    member: string,
    expectedScore: number,
    next: number | null,
  ): Promise<boolean> {
    return settle(() => {
      const entry = this.readZset(key);
      if (entry?.members.get(member) !== expectedScore) return false;
      if (next === null) {
        entry.members.delete(member);
        if (entry.members.size === 0) this.entries.delete(key);
      } else {
        entry.members.set(member, next);
      }
      return true;
    });
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  /** Drops every key: the in-process equivalent of FLUSHALL (tests simulate cache loss with it). */
  clear(): void {
    this.entries.clear();
  }

  /** The members of the sorted set at `key`, created empty when missing. */
  private zsetFor(key: string): Map<string, number> {
    let entry = this.live(key);
    if (entry === undefined) {
      entry = { kind: 'zset', members: new Map() };
      this.entries.set(key, entry);
    }
    if (entry.kind !== 'zset') throw wrongType(key);
    return entry.members;
  }

  private rangeByScore(key: string, max: number, limit: number): ScoredMember[] {
    const entry = this.readZset(key);
    if (!entry || limit <= 0) return [];
    return [...entry.members]
      .filter(([, score]) => score <= max)
      .sort(([ma, sa], [mb, sb]) => sa - sb || (ma < mb ? -1 : ma > mb ? 1 : 0))
      .slice(0, limit)
      .map(([member, score]) => ({ member, score }));
  }

  /** The entry if present and not expired; an expired one is removed on the way. */
  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry?.kind === 'string' && entry.expiresAt !== null && entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private readString(key: string): Extract<Entry, { kind: 'string' }> | undefined {
    const entry = this.live(key);
    if (entry !== undefined && entry.kind !== 'string') throw wrongType(key);
    return entry;
  }

  private readZset(key: string): Extract<Entry, { kind: 'zset' }> | undefined {
    const entry = this.live(key);
    if (entry !== undefined && entry.kind !== 'zset') throw wrongType(key);
    return entry;
  }
}

/** Runs synchronous work with promise semantics: a throw becomes a rejection, as with Redis. */
function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

function expiryOf(ttlMs: number | undefined): number | null {
  return ttlMs === undefined ? null : Date.now() + normalizeTtl(ttlMs);
}

/** Same failure Redis reports, so a misuse shows up with either store. */
function wrongType(key: string): Error {
  return new Error(`WRONGTYPE key ${key} holds a different kind of value`);
}
