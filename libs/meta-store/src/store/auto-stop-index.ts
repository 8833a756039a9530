import { KeyValueStore } from '../kv/key-value-store';
import type { ScoredMember } from '../kv/key-value-store';
import { LIVE_STATES } from '@app/domain';
import type { SandboxInfo, SandboxState } from '@app/domain';
import { AUTO_STOP_INDEX_BUILT_KEY, AUTO_STOP_INDEX_KEY } from './cache-keys';
import type { AutoStopDeadline, SandboxDb } from './sandbox-db';

/** Rows per page when rebuilding the index from the database. */
export const AUTO_STOP_REBUILD_PAGE = 1_000;

/**
 * How long a built index is trusted. When the marker expires, the next scan rebuilds from the
 * database, which bounds the effect of an index write that failed after its database commit (a
 * Redis blip): such a sandbox is stopped at most this much late, never early.
 */
export const AUTO_STOP_INDEX_TTL_MS = 10 * 60_000;

/** Rounds of "read the head, repair stale entries" per scan, so a run of stale entries at the
 * head cannot hide due ones; each round repairs what it read, so the head moves on. */
const MAX_SCAN_ROUNDS = 3;

/**
 * The auto-stop deadlines of live sandboxes as a sorted set in the key-value store (score = epoch
 * ms, member = sandbox id), so a scan is one ZRANGEBYSCORE instead of a database query. The
 * database stays the truth: the set is maintained after each committed write, rebuilt from the
 * database whenever the marker key is missing (FLUSHALL, a fresh in-process store, the marker's
 * TTL), and every due entry is checked against the database before it is returned.
 *
 * The index is advisory. Entries can go stale (an index write that failed after its commit, a
 * rebuild racing a write), and callers must re-check the record under the sandbox lock before
 * acting anyway, so a stale entry costs a wasted check, never a wrong stop. Stale entries also
 * cannot pile up: each one is repaired (moved or removed) when a scan reaches it, with a
 * compare-and-set on its score so a repair never overwrites a concurrent writer's newer entry.
 * Rebuilds only ever lower scores (ZADD LT), so a race can make an entry early (repaired when
 * reached) but not late.
 */
export class AutoStopIndex {
  constructor(
    private readonly kv: KeyValueStore,
    private readonly db: SandboxDb,
  ) {}

  /** Puts the sandbox in the index at its deadline while live with one; removes it otherwise. */
  async sync(info: SandboxInfo): Promise<void> {
    const score = scoreOf(info);
    if (score === null) await this.kv.zrem(AUTO_STOP_INDEX_KEY, info.id);
    else await this.kv.zadd(AUTO_STOP_INDEX_KEY, score, info.id);
  }

  /** Forces a rebuild at the next scan (after an index write failed). */
  async invalidate(): Promise<void> {
    await this.kv.del(AUTO_STOP_INDEX_BUILT_KEY);
  }

  /** Ids of live sandboxes whose stop deadline is at or before `now`, earliest first. */
  async due(now: number, limit: number): Promise<string[]> {
    if ((await this.kv.get(AUTO_STOP_INDEX_BUILT_KEY)) === null) await this.rebuild();
    let due: AutoStopDeadline[] = [];
    for (let round = 0; round < MAX_SCAN_ROUNDS; round += 1) {
      const head = await this.kv.zrangeByScoreWithScores(AUTO_STOP_INDEX_KEY, now, limit);
      const { verified, repaired } = await this.verify(head, now);
      due = verified;
      if (repaired === 0 || head.length < limit) break;
    }
    return due
      .sort((a, b) => (a.autoStopAt ?? 0) - (b.autoStopAt ?? 0) || compareIds(a.id, b.id))
      .map(({ id }) => id);
  }

  /**
   * Adds every live sandbox with a deadline, page by page, then sets the marker. Existing entries
   * only move down (ZADD LT): a writer's newer, earlier deadline is kept, and an entry that is too
   * early is repaired when a scan reaches it.
   */
  async rebuild(): Promise<void> {
    const startedAt = new Date().toISOString();
    let after: string | undefined;
    for (;;) {
      const page = await this.db.liveAutoStopDeadlines(AUTO_STOP_REBUILD_PAGE, after);
      const entries: ScoredMember[] = page.flatMap(({ id, autoStopAt }) =>
        autoStopAt === null ? [] : [{ member: id, score: autoStopAt }],
      );
      await this.kv.zaddMany(AUTO_STOP_INDEX_KEY, entries, { onlyLower: true });
      if (page.length < AUTO_STOP_REBUILD_PAGE) break;
      after = page[page.length - 1].id;
    }
    await this.kv.set(AUTO_STOP_INDEX_BUILT_KEY, startedAt, AUTO_STOP_INDEX_TTL_MS);
  }

  /**
   * The entries the database confirms as due; every other one is repaired: moved to the stored
   * deadline, or removed when the sandbox is gone, not live, or has no deadline.
   */
  private async verify(
    head: ScoredMember[],
    now: number,
  ): Promise<{ verified: AutoStopDeadline[]; repaired: number }> {
    const stored = new Map(
      (await this.db.autoStopDeadlines(head.map(({ member }) => member))).map((d) => [d.id, d]),
    );
    const verified: AutoStopDeadline[] = [];
    let repaired = 0;
    for (const { member, score } of head) {
      const row = stored.get(member);
      const expected = row === undefined ? null : expectedScore(row.state, row.autoStopAt);
      if (expected !== score) {
        repaired += 1;
        await this.kv.zcompareAndSet(AUTO_STOP_INDEX_KEY, member, score, expected);
      }
      if (row !== undefined && expected !== null && expected <= now) verified.push(row);
    }
    return { verified, repaired };
  }
}

function scoreOf(info: SandboxInfo): number | null {
  return expectedScore(info.state, info.autoStopAt === null ? null : Date.parse(info.autoStopAt));
}

/** Where the sandbox belongs in the index: its deadline while live, nowhere otherwise. */
function expectedScore(state: SandboxState, autoStopAt: number | null): number | null {
  return LIVE_STATES.includes(state) && autoStopAt !== null && Number.isFinite(autoStopAt)
    ? autoStopAt
    : null;
}

/** Byte order, as Redis orders equal scores (localeCompare would not). */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
