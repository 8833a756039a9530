import { isCodedError, isCodedError as isCoded, LIVE_STATES } from '@app/domain';
import { SecretsKey } from '@app/config';
import {
  AUTO_STOP_INDEX_BUILT_KEY,
  AUTO_STOP_INDEX_KEY,
  KeyValueStore,
  LOAD_MANY_BATCH,
  SandboxEntity,
  IdempotencyKeyEntity,
  SandboxMetaStore,
  SecretsKeyring,
  aliveKey,
  encodeCursor,
  legacyTimeoutKey,
} from '@app/meta-store';
import type { CommittedResources, InsertSandboxInput } from '@app/meta-store';
import type { SandboxInfo, SandboxRecord, SandboxState } from '@app/domain';
import { DataSource, In } from 'typeorm';
import {
  makeSandboxInfo,
  makeSandboxSpec,
  testKeyring,
} from '../../../libs/meta-store/src/testing/sandbox-fixtures';
import { idFactory, rejectionOf } from './meta-store-support';

export interface MetaStoreHarness {
  store: SandboxMetaStore;
  dataSource: DataSource;
  kv: KeyValueStore;
  /** Loses the whole cache, like FLUSHALL (only this run's keys on a shared Redis). */
  flushCache(): Promise<void>;
  /** True when no other process writes to this database (exact counts can be asserted). */
  exclusiveDatabase: boolean;
  close(): Promise<void>;
}

/** The behaviour of SandboxMetaStore; run against every supported database + cache pairing. */
export function describeSandboxMetaStoreContract(
  name: string,
  open: () => Promise<MetaStoreHarness>,
): void {
  describe(`SandboxMetaStore contract: ${name}`, () => {
    let h: MetaStoreHarness;
    let store: SandboxMetaStore;
    const newId = idFactory(name.replace(/[^a-z]/gi, '').slice(0, 6));
    const run = newId();
    const created: string[] = [];

    const input = (
      overrides: Partial<SandboxInfo> = {},
      extra: Partial<InsertSandboxInput> = {},
    ): InsertSandboxInput => {
      const id = overrides.id ?? newId();
      created.push(id);
      const labels = overrides.labels ?? { run };
      return {
        info: makeSandboxInfo({ id, labels, ...overrides }),
        spec: makeSandboxSpec({ labels, env: { TOKEN: 'db-only-secret' } }),
        machineSnapshot: { value: 'pending', context: { attempt: 1 } },
        machineVersion: 'v1',
        ...extra,
      };
    };
    const insert = async (
      overrides: Partial<SandboxInfo> = {},
      extra: Partial<InsertSandboxInput> = {},
    ): Promise<SandboxRecord> => (await store.insert(input(overrides, extra))).record;
    const rawAlive = async (id: string): Promise<string | null> => h.kv.get(aliveKey(id));
    /** A record with its env opened (the harness stores seal with the test key). */
    const opened = (record: SandboxRecord) => ({
      ...record,
      spec: testKeyring().openSpec(record.info.id, record.spec),
    });
    const codeOf = async (promise: Promise<unknown>): Promise<string> => {
      const error = await rejectionOf(promise);
      return isCodedError(error) ? error.code : `not coded: ${String(error)}`;
    };

    beforeAll(async () => {
      h = await open();
      store = h.store;
      // A shared database may hold rows an earlier run deleted behind the store's back (below):
      // the usage counters start from the truth.
      await store.reconcileUsage();
    });

    afterAll(async () => {
      // Label and idempotency rows go with their sandbox (ON DELETE CASCADE). Deleted behind the
      // store's back, so the usage counters are reconciled after.
      if (created.length > 0) {
        await h.dataSource.getRepository(SandboxEntity).delete({ id: In(created) });
        await store.reconcileUsage();
      }
      await h.flushCache();
      await h.close();
    });

    describe('insert and load', () => {
      it('persists the record, returns version 1 and loads it by id and by name', async () => {
        const name = `web-${newId()}`;
        const request = input({ name, labels: { run, tier: 'web' } });
        const result = await store.insert(request);
        expect(result.created).toBe(true);
        expect(opened(result.record)).toEqual({
          info: request.info,
          spec: request.spec,
          machineSnapshot: request.machineSnapshot,
          machineVersion: 'v1',
          version: 1,
        });
        expect(await store.load(request.info.id)).toEqual(result.record);
        expect(await store.load(name)).toEqual(result.record);
        expect(await store.load(`missing-${newId()}`)).toBeNull();
      });

      it('caches a live sandbox with SandboxInfo fields only, and nothing else', async () => {
        const record = await insert({ state: 'pending', idleTimeoutSeconds: 600 });
        const raw = await rawAlive(record.info.id);
        expect(raw).not.toBeNull();
        expect(JSON.parse(raw ?? '')).toEqual(record.info);
        expect(raw).not.toContain('db-only-secret');
        expect(raw).not.toContain('machineSnapshot');
        expect(await h.kv.get(legacyTimeoutKey(record.info.id))).toBeNull();
      });

      it('does not cache a sandbox that is not live', async () => {
        const record = await insert({ state: 'stopped', operation: null });
        expect(await rawAlive(record.info.id)).toBeNull();
      });

      it('drops fields that are not SandboxInfo before writing', async () => {
        const request = input();
        const polluted = { ...request, info: { ...request.info, password: 'leak' } as SandboxInfo };
        const { record } = await store.insert(polluted);
        expect(record.info).not.toHaveProperty('password');
        expect(await store.load(record.info.id)).toEqual(record);
        expect(await rawAlive(record.info.id)).not.toContain('leak');
      });

      it('rejects a value the column cannot hold, identically on every database', async () => {
        expect(await codeOf(store.insert(input({ name: 'n'.repeat(129) })))).toBe(
          'VALIDATION_FAILED',
        );
      });
    });

    describe('env values at rest', () => {
      const rawSpec = async (id: string): Promise<string> => {
        const [raw] = await h.dataSource.query<{ spec: string }[]>(
          `SELECT "spec" FROM "sandbox_table" WHERE "id" = ${h.dataSource.options.type === 'postgres' ? '$1' : '?'}`,
          [id],
        );
        return raw.spec;
      };

      it('stores each value sealed, never in clear, and the cache holds none', async () => {
        const record = await insert({ state: 'running', operation: null });
        const raw = await rawSpec(record.info.id);
        expect(raw).not.toContain('db-only-secret');
        expect(Buffer.from(raw).toString('base64')).not.toContain(
          Buffer.from('db-only-secret').toString('base64'),
        );
        expect(JSON.parse(raw)).toMatchObject({
          sealedEnv: { TOKEN: expect.stringMatching(/^sbx1:/) },
        });
        expect(JSON.parse(raw)).not.toHaveProperty('env');
        expect(await rawAlive(record.info.id)).not.toContain('db-only-secret');
        expect(store.openEnv((await store.load(record.info.id))!)).toEqual({
          TOKEN: 'db-only-secret',
        });
      });

      it('drops the values, sealed ones too, when the sandbox is deleted; the names stay', async () => {
        const record = await insert({ state: 'stopped', operation: null });
        const sealed = record.spec.sealedEnv.TOKEN;
        const deleted = await store.update(
          record.info.id,
          { state: 'deleted', operation: null, deletedAt: new Date().toISOString() },
          { expectedVersion: record.version },
        );
        const raw = await rawSpec(record.info.id);
        expect(raw).not.toContain(sealed);
        expect(JSON.parse(raw)).toMatchObject({ sealedEnv: {} });
        expect(store.openEnv(deleted)).toEqual({});
        expect(deleted.info.envKeys).toEqual(['TOKEN']);
      });

      it('answers a value sealed under another key with SECRETS_UNREADABLE for that record only', async () => {
        const record = await insert({ state: 'running', operation: null });
        const other = new SandboxMetaStore(
          h.dataSource,
          h.kv,
          new SecretsKeyring(SecretsKey.parse('fe'.repeat(31) + 'dc'), 'another key'),
        );
        const loaded = await other.load(record.info.id);
        expect(loaded?.info).toEqual(record.info);
        let error: unknown;
        try {
          other.openEnv(loaded!);
        } catch (caught) {
          error = caught;
        }
        expect(isCoded(error, 'SECRETS_UNREADABLE')).toBe(true);
        expect(String(error)).not.toContain('db-only-secret');
        // Reads of every other record are untouched.
        expect((await other.listByStates(['running'], 1_000)).length).toBeGreaterThan(0);
      });

      it('stores idempotency fingerprints keyed, never the request hash itself', async () => {
        const idempotency = { key: `idem-keyed-${newId()}`, fingerprint: 'sha-of-request' };
        await store.insert(input({}, { idempotency }));
        const stored = await h.dataSource
          .getRepository(IdempotencyKeyEntity)
          .findOneByOrFail({ key: idempotency.key });
        expect(stored.fingerprint).not.toBe('sha-of-request');
        expect(stored.fingerprint).toBe(testKeyring().fingerprint('sha-of-request'));
      });
    });

    describe('access tokens', () => {
      const rawToken = async (id: string): Promise<string | null | undefined> => {
        const [row] = await h.dataSource.query<{ sealed_token: string | null }[]>(
          `SELECT "sealed_token" FROM "sandbox_access_token" WHERE "sandbox_id" = ${h.dataSource.options.type === 'postgres' ? '$1' : '?'}`,
          [id],
        );
        return row?.sealed_token;
      };

      it('issues once: the first token stays, sealed at rest, and never reaches the record or the cache', async () => {
        const record = await insert({ state: 'running', operation: null });
        const id = record.info.id;
        expect(await store.accessToken(id)).toBeNull();
        expect(await store.issueAccessToken(id, 'first-token-value')).toEqual({
          token: 'first-token-value',
        });
        expect(await store.issueAccessToken(id, 'second-token-value')).toEqual({
          token: 'first-token-value',
        });
        expect(await store.accessToken(id)).toEqual({ token: 'first-token-value' });
        const raw = await rawToken(id);
        expect(raw).toMatch(/^sbx1:/);
        expect(raw).not.toContain('first-token-value');
        expect(JSON.stringify(await store.load(id))).not.toContain('first-token-value');
        expect(await rawAlive(id)).not.toContain('first-token-value');
      });

      it('gives every issuer racing on several connections the same token', async () => {
        const record = await insert({ state: 'running', operation: null });
        const answers = await Promise.all(
          ['a', 'b', 'c', 'd', 'e'].map((n) =>
            store.issueAccessToken(record.info.id, `token-${n}`),
          ),
        );
        expect(new Set(answers.map((a) => a.token)).size).toBe(1);
        expect(await store.accessToken(record.info.id)).toEqual(answers[0]);
      });

      it('keeps an open sandbox open (null), and a token sealed for its own sandbox only', async () => {
        const open = await insert({ state: 'running', operation: null });
        expect(await store.issueAccessToken(open.info.id, null)).toEqual({ token: null });
        expect(await store.issueAccessToken(open.info.id, 'later')).toEqual({ token: null });
        const a = await insert({ state: 'running', operation: null });
        const b = await insert({ state: 'running', operation: null });
        await store.issueAccessToken(a.info.id, 'token-of-a');
        await store.issueAccessToken(b.info.id, 'token-of-b');
        // A's sealed token copied onto B's row does not open as B's.
        const p = (n: number) => (h.dataSource.options.type === 'postgres' ? `$${n}` : '?');
        await h.dataSource.query(
          `UPDATE "sandbox_access_token" SET "sealed_token" = ${p(1)} WHERE "sandbox_id" = ${p(2)}`,
          [await rawToken(a.info.id), b.info.id],
        );
        expect(await codeOf(store.accessToken(b.info.id))).toBe('SECRETS_UNREADABLE');
      });

      it("drops a sandbox's token when it is deleted", async () => {
        const record = await insert({ state: 'stopped', operation: null });
        await store.issueAccessToken(record.info.id, 'token-to-drop');
        await store.update(
          record.info.id,
          { state: 'deleted', operation: null, deletedAt: new Date().toISOString() },
          { expectedVersion: record.version },
        );
        expect(await store.accessToken(record.info.id)).toBeNull();
        expect(await rawToken(record.info.id)).toBeUndefined();
      });
    });

    describe('names', () => {
      it('rejects a name used by a non-deleted sandbox with NAME_CONFLICT', async () => {
        const name = `dup-${newId()}`;
        await insert({ name });
        const loser = input({ name });
        const error = await rejectionOf(store.insert(loser));
        expect(isCodedError(error, 'NAME_CONFLICT')).toBe(true);
        expect(error).toMatchObject({ details: { name } });
        // Nothing of the failed insert remains: no row, no phantom cache entry.
        expect(await store.load(loser.info.id)).toBeNull();
        expect(await rawAlive(loser.info.id)).toBeNull();
      });

      it('lets exactly one of many concurrent inserts take a name', async () => {
        const name = `race-${newId()}`;
        const results = await Promise.allSettled(
          Array.from({ length: 6 }, () => store.insert(input({ name }))),
        );
        const fulfilled = results.filter((r) => r.status === 'fulfilled');
        const rejected = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
        expect(fulfilled).toHaveLength(1);
        expect(rejected.every((e: unknown) => isCodedError(e, 'NAME_CONFLICT'))).toBe(true);
      });

      it('frees the name once its sandbox is deleted; load by name skips deleted ones', async () => {
        const name = `reuse-${newId()}`;
        const first = await insert({ name });
        await store.archiveCache(
          first.info.id,
          { state: 'deleted', operation: null, deletedAt: new Date().toISOString() },
          { expectedVersion: first.version },
        );
        expect(await store.load(name)).toBeNull();
        const second = await insert({ name });
        expect((await store.load(name))?.info.id).toBe(second.info.id);
        expect((await store.load(first.info.id))?.info.state).toBe('deleted');
      });
    });

    describe('idempotency', () => {
      it('replays the same request and rejects a different one', async () => {
        const idempotency = { key: `idem-${newId()}`, fingerprint: 'fp-1' };
        const first = await store.insert(input({}, { idempotency }));
        expect(first.created).toBe(true);

        const replay = await store.insert(input({}, { idempotency }));
        expect(replay.created).toBe(false);
        expect(replay.record).toEqual(first.record);

        const other = input({}, { idempotency: { ...idempotency, fingerprint: 'fp-2' } });
        expect(await codeOf(store.insert(other))).toBe('IDEMPOTENCY_CONFLICT');
        expect(await store.load(other.info.id)).toBeNull();
      });

      it('creates exactly one sandbox for concurrent requests with one key', async () => {
        const idempotency = { key: `idem-race-${newId()}`, fingerprint: 'fp' };
        const requests = Array.from({ length: 8 }, () => input({}, { idempotency }));
        const results = await Promise.all(requests.map((r) => store.insert(r)));
        expect(results.filter((r) => r.created)).toHaveLength(1);
        const winner = results.find((r) => r.created)?.record.info.id;
        expect(new Set(results.map((r) => r.record.info.id))).toEqual(new Set([winner]));
        const rows = await h.dataSource
          .getRepository(SandboxEntity)
          .countBy({ id: In(requests.map((r) => r.info.id)) });
        expect(rows).toBe(1);
      });

      it('lets one of concurrent requests with one key but different bodies win', async () => {
        const key = `idem-diff-${newId()}`;
        const results = await Promise.allSettled(
          Array.from({ length: 5 }, (_, i) =>
            store.insert(input({}, { idempotency: { key, fingerprint: `fp-${i}` } })),
          ),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected')
            expect(isCodedError(r.reason, 'IDEMPOTENCY_CONFLICT')).toBe(true);
        }
      });

      it('lets a key be reused after 24 hours', async () => {
        const key = `idem-old-${newId()}`;
        await store.insert(input({}, { idempotency: { key, fingerprint: 'fp-old' } }));
        await h.dataSource
          .createQueryBuilder()
          .update('idempotency_key')
          .set({ createdAt: Date.now() - 25 * 3600 * 1000 })
          .where('"key" = :key', { key })
          .execute();
        const fresh = await store.insert(
          input({}, { idempotency: { key, fingerprint: 'fp-new' } }),
        );
        expect(fresh.created).toBe(true);
        const replay = await store.insert(
          input({}, { idempotency: { key, fingerprint: 'fp-new' } }),
        );
        expect(replay.record.info.id).toBe(fresh.record.info.id);
      });
    });

    describe('update', () => {
      it('merges the patch, bumps the version and refreshes the cache', async () => {
        const record = await insert();
        const updated = await store.update(
          record.info.id,
          {
            state: 'running',
            operation: null,
            host: '10.0.0.5',
            startedAt: '2026-01-01T00:00:05.000Z',
          },
          { expectedVersion: 1, machineSnapshot: { value: 'running' } },
        );
        expect(updated.version).toBe(2);
        expect(updated.info).toEqual({
          ...record.info,
          state: 'running',
          operation: null,
          host: '10.0.0.5',
          startedAt: '2026-01-01T00:00:05.000Z',
        });
        expect(updated.machineSnapshot).toEqual({ value: 'running' });
        expect(await store.load(record.info.id)).toEqual(updated);
        expect(JSON.parse((await rawAlive(record.info.id)) ?? '')).toEqual(updated.info);
        const row = await h.dataSource
          .getRepository(SandboxEntity)
          .findOneByOrFail({ id: record.info.id });
        expect(row).toMatchObject({
          state: 'running',
          operation: null,
          startedAt: Date.parse('2026-01-01T00:00:05.000Z'),
          version: 2,
        });
      });

      it('keeps the machine snapshot when none is given, and never rewrites the id', async () => {
        const record = await insert();
        const patch = { id: 'hijack', failureReason: 'x', spec: 'junk' } as Partial<SandboxInfo>;
        const updated = await store.update(record.info.id, patch, { expectedVersion: 1 });
        expect(updated.info.id).toBe(record.info.id);
        expect(updated.info).not.toHaveProperty('spec');
        expect(updated.machineSnapshot).toEqual(record.machineSnapshot);
        expect(await store.load('hijack')).toBeNull();
      });

      it('rejects a stale version with CONCURRENT_MODIFICATION and changes nothing', async () => {
        const record = await insert();
        await store.update(record.info.id, { host: 'first' }, { expectedVersion: 1 });
        const error = await rejectionOf(
          store.update(record.info.id, { host: 'second' }, { expectedVersion: 1 }),
        );
        expect(isCodedError(error, 'CONCURRENT_MODIFICATION')).toBe(true);
        const stored = await store.load(record.info.id);
        expect(stored?.info.host).toBe('first');
        expect(stored?.version).toBe(2);
      });

      it('lets exactly one of concurrent updates from the same version win', async () => {
        const record = await insert();
        const results = await Promise.allSettled(
          Array.from({ length: 5 }, (_, i) =>
            store.update(record.info.id, { host: `h${i}` }, { expectedVersion: 1 }),
          ),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') {
            expect(isCodedError(r.reason, 'CONCURRENT_MODIFICATION')).toBe(true);
          }
        }
        expect((await store.load(record.info.id))?.version).toBe(2);
      });

      it('writes from the record the caller holds, and still refuses it once another writer moved on', async () => {
        const record = await insert();
        const first = await store.update(
          record.info.id,
          { host: 'first' },
          { expectedVersion: 1, current: record },
        );
        expect(first.info).toMatchObject({ host: 'first', image: record.info.image });
        expect((await store.load(record.info.id))?.info.host).toBe('first');
        // `record` is version 1; the row is at 2: the UPDATE's own version check refuses it.
        const error = await rejectionOf(
          store.update(record.info.id, { host: 'stale' }, { expectedVersion: 1, current: record }),
        );
        expect(isCodedError(error, 'CONCURRENT_MODIFICATION')).toBe(true);
        expect((await store.load(record.info.id))?.info.host).toBe('first');
      });

      it('reports an unknown sandbox as SANDBOX_NOT_FOUND', async () => {
        expect(await codeOf(store.update(`missing-${newId()}`, {}, { expectedVersion: 1 }))).toBe(
          'SANDBOX_NOT_FOUND',
        );
      });

      it('merges into the cached value (read-merge-write), or the DB info after a cache loss', async () => {
        const record = await insert();
        const id = record.info.id;
        // A field only the cache knows about survives a merge of unrelated fields.
        await h.kv.set(aliveKey(id), JSON.stringify({ ...record.info, containerId: 'cache-only' }));
        await store.update(id, { state: 'running' }, { expectedVersion: 1 });
        expect(JSON.parse((await rawAlive(id)) ?? '')).toMatchObject({
          state: 'running',
          containerId: 'cache-only',
        });

        await h.flushCache();
        const updated = await store.update(id, { host: 'h' }, { expectedVersion: 2 });
        expect(JSON.parse((await rawAlive(id)) ?? '')).toEqual(updated.info);
      });

      it('evicts the cache when the sandbox leaves the live states', async () => {
        const record = await insert();
        await store.update(record.info.id, { state: 'stopped' }, { expectedVersion: 1 });
        expect(await rawAlive(record.info.id)).toBeNull();
      });

      it('rewrites label rows when labels change', async () => {
        const record = await insert({ labels: { run, color: 'red' } });
        await store.update(
          record.info.id,
          { labels: { run, color: 'blue' } },
          { expectedVersion: 1 },
        );
        const red = await store.list({ labels: { run, color: 'red' }, limit: 10 });
        const blue = await store.list({ labels: { run, color: 'blue' }, limit: 10 });
        expect(red.items.map((i) => i.id)).not.toContain(record.info.id);
        expect(blue.items.map((i) => i.id)).toContain(record.info.id);
      });
    });

    describe('archiveCache and restoreCache', () => {
      it('persists the stored info plus the final info, never the cached view, then evicts', async () => {
        const record = await insert({ containerId: 'c-db' });
        const id = record.info.id;
        // A stale cached view (the DB is written first, so the row is the newer one).
        await h.kv.set(aliveKey(id), JSON.stringify({ ...record.info, containerId: 'c-stale' }));
        await h.kv.set(legacyTimeoutKey(id), '{"idleTimeoutSeconds":60}');
        const archived = await store.archiveCache(
          id,
          { state: 'stopped', operation: null, stoppedAt: '2026-01-01T01:00:00.000Z' },
          { expectedVersion: 1, machineSnapshot: { value: 'stopped' } },
        );
        expect(archived.version).toBe(2);
        expect(archived.info).toEqual({
          ...record.info,
          state: 'stopped',
          operation: null,
          stoppedAt: '2026-01-01T01:00:00.000Z',
        });
        expect(await store.load(id)).toEqual(archived);
        expect(await rawAlive(id)).toBeNull();
        expect(await h.kv.get(legacyTimeoutKey(id))).toBeNull();
      });

      it('falls back to the DB info when the cache was lost', async () => {
        const record = await insert({ host: 'db-host' });
        await h.flushCache();
        const archived = await store.archiveCache(
          record.info.id,
          { state: 'stopped', operation: null },
          { expectedVersion: 1 },
        );
        expect(archived.info).toEqual({ ...record.info, state: 'stopped', operation: null });
      });

      it('checks the version and then leaves the cache untouched', async () => {
        const record = await insert();
        expect(
          await codeOf(
            store.archiveCache(record.info.id, { state: 'stopped' }, { expectedVersion: 7 }),
          ),
        ).toBe('CONCURRENT_MODIFICATION');
        expect(await rawAlive(record.info.id)).not.toBeNull();
      });

      it('restoreCache re-seeds the alive key from the stored record', async () => {
        const record = await insert();
        const stopped = await store.archiveCache(
          record.info.id,
          { state: 'stopped', operation: null },
          { expectedVersion: 1 },
        );
        const running = await store.update(
          record.info.id,
          { state: 'running' },
          { expectedVersion: stopped.version },
        );
        await h.flushCache();
        await store.restoreCache(record.info.id);
        expect(JSON.parse((await rawAlive(record.info.id)) ?? '')).toEqual(running.info);
        expect(await codeOf(store.restoreCache(`missing-${newId()}`))).toBe('SANDBOX_NOT_FOUND');
      });
    });

    describe('get: cache first, database fallback', () => {
      it('serves a live sandbox from the cache', async () => {
        const record = await insert();
        await h.kv.set(
          aliveKey(record.info.id),
          JSON.stringify({ ...record.info, host: 'from-cache' }),
        );
        expect((await store.get(record.info.id))?.host).toBe('from-cache');
      });

      it('loses nothing when the whole cache is flushed', async () => {
        const live = await insert({ name: `flush-${newId()}` });
        const updated = await store.update(
          live.info.id,
          { state: 'running' },
          { expectedVersion: 1 },
        );
        const stopped = await insert({ state: 'stopped', operation: null });
        await h.flushCache();
        expect(await rawAlive(live.info.id)).toBeNull();

        expect(await store.get(live.info.id)).toEqual(updated.info);
        expect(await store.get(live.info.name ?? '')).toEqual(updated.info);
        expect(await store.get(stopped.info.id)).toEqual(stopped.info);
        expect(await store.load(live.info.id)).toEqual(updated);
        const listed = await store.list({ labels: { run }, limit: 1000 });
        expect(listed.items.map((i) => i.id)).toEqual(
          expect.arrayContaining([live.info.id, stopped.info.id]),
        );
      });

      it('returns SandboxInfo fields only, even from a polluted cache entry', async () => {
        const record = await insert();
        await h.kv.set(
          aliveKey(record.info.id),
          JSON.stringify({ ...record.info, spec: { env: { TOKEN: 'leak' } } }),
        );
        const info = await store.get(record.info.id);
        expect(info).toEqual(record.info);
        expect(info).not.toHaveProperty('spec');
      });

      it('returns null for an unknown sandbox', async () => {
        expect(await store.get(`missing-${newId()}`)).toBeNull();
      });

      // get and list read only the info column (not the spec or the machine snapshot): they must
      // still answer exactly the info that load() does, by id and by live name.
      it('reads from the database exactly the info load() returns, by id and by live name', async () => {
        const name = `info-${newId()}`;
        const live = await insert({ name, labels: { run, reads: 'info' } });
        const gone = await insert({ name: `gone-${newId()}`, state: 'stopped', operation: null });
        await store.archiveCache(
          gone.info.id,
          { state: 'deleted', deletedAt: new Date().toISOString() },
          { expectedVersion: gone.version },
        );
        await h.flushCache();

        const loaded = await store.load(live.info.id);
        expect(await store.get(live.info.id)).toEqual(loaded?.info);
        expect(await store.get(name)).toEqual(loaded?.info);
        expect(await store.get(gone.info.name ?? '')).toBeNull();
        expect((await store.get(gone.info.id))?.state).toBe('deleted');
        const page = await store.list({ labels: { run, reads: 'info' }, limit: 10 });
        expect(page.items).toEqual([loaded?.info]);
      });
    });

    describe('list', () => {
      const listRun = `list-${Math.random().toString(36).slice(2, 8)}`;
      const image = `registry.test/${listRun}:1`;
      let ids: Record<string, string>;

      beforeAll(async () => {
        const make = async (
          key: string,
          state: SandboxState,
          labels: Record<string, string>,
          img = 'alpine:3.20',
        ): Promise<[string, string]> => {
          const record = await insert({
            state,
            operation: null,
            image: img,
            labels: { listRun, ...labels },
          });
          return [key, record.info.id];
        };
        // Sequential: ids must come out in creation order.
        const entries: [string, string][] = [];
        entries.push(await make('a', 'running', { team: 'x', env: 'prod' }, image));
        entries.push(await make('b', 'running', { team: 'x', env: 'dev' }));
        entries.push(await make('c', 'stopped', { team: 'y', env: 'prod' }, image));
        entries.push(await make('d', 'pending', { team: 'x', env: 'prod' }));
        entries.push(await make('e', 'deleted', { team: 'x', env: 'prod' }, image));
        ids = Object.fromEntries(entries);
      });

      const listIds = async (query: Parameters<SandboxMetaStore['list']>[0]): Promise<string[]> =>
        (await store.list(query)).items.map((item) => item.id);

      it('hides deleted sandboxes unless asked, ordered by id', async () => {
        expect(await listIds({ labels: { listRun }, limit: 100 })).toEqual([
          ids.a,
          ids.b,
          ids.c,
          ids.d,
        ]);
        expect(await listIds({ labels: { listRun }, includeDeleted: true, limit: 100 })).toEqual([
          ids.a,
          ids.b,
          ids.c,
          ids.d,
          ids.e,
        ]);
        expect(await listIds({ labels: { listRun }, states: ['deleted'], limit: 100 })).toEqual([
          ids.e,
        ]);
      });

      it('filters by states, image and every label pair', async () => {
        expect(
          await listIds({ labels: { listRun }, states: ['running', 'pending'], limit: 100 }),
        ).toEqual([ids.a, ids.b, ids.d]);
        expect(await listIds({ labels: { listRun }, image, limit: 100 })).toEqual([ids.a, ids.c]);
        expect(await listIds({ labels: { listRun, team: 'x', env: 'prod' }, limit: 100 })).toEqual([
          ids.a,
          ids.d,
        ]);
        expect(await listIds({ labels: { listRun, team: 'x', env: 'nope' }, limit: 100 })).toEqual(
          [],
        );
        expect(await listIds({ image, states: ['stopped'], limit: 100 })).toEqual([ids.c]);
      });

      it('pages with an opaque cursor until nextCursor is null', async () => {
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.list({
            labels: { listRun },
            includeDeleted: true,
            limit: 2,
            cursor,
          });
          seen.push(...page.items.map((i) => i.id));
          cursor = page.nextCursor ?? undefined;
          pages += 1;
          expect(page.items.length).toBeLessThanOrEqual(2);
        } while (cursor !== undefined && pages < 10);
        expect(pages).toBe(3);
        expect(seen).toEqual([ids.a, ids.b, ids.c, ids.d, ids.e]);
      });

      it('returns no cursor when the last page is exactly full', async () => {
        const page = await store.list({ labels: { listRun }, limit: 4 });
        expect(page.items).toHaveLength(4);
        expect(page.nextCursor).toBeNull();
        const after = await store.list({
          labels: { listRun },
          limit: 10,
          cursor: encodeCursor(ids.b),
        });
        expect(after.items.map((i) => i.id)).toEqual([ids.c, ids.d]);
      });

      describe('with as many label filters as the API allows (64)', () => {
        const wide = Object.fromEntries([...Array(63)].map((_, i) => [`k${i}`, `v${i}`]));
        let all: string[];
        let partial: string;

        beforeAll(async () => {
          // Sequential: ids must come out in creation order.
          all = [];
          for (const state of ['running', 'stopped', 'deleted'] as const) {
            const record = await insert({ state, operation: null, labels: { listRun, ...wide } });
            all.push(record.info.id);
          }
          // Carries every key, one with another value: must never match.
          partial = (
            await insert({
              state: 'running',
              operation: null,
              labels: { listRun, ...wide, k62: 'other' },
            })
          ).info.id;
        });

        const every = (): Record<string, string> => ({ listRun, ...wide });

        it('matches only the sandboxes carrying all 64 pairs', async () => {
          expect(Object.keys(every())).toHaveLength(64);
          expect(await listIds({ labels: every(), limit: 100 })).toEqual(all.slice(0, 2));
          expect(await listIds({ labels: every(), includeDeleted: true, limit: 100 })).toEqual(all);
          expect(await listIds({ labels: every(), states: ['stopped'], limit: 100 })).toEqual([
            all[1],
          ]);
          expect(await listIds({ labels: { ...every(), k62: 'other' }, limit: 100 })).toEqual([
            partial,
          ]);
        });

        it('pages through them with the cursor', async () => {
          const first = await store.list({ labels: every(), includeDeleted: true, limit: 2 });
          expect(first.items.map((i) => i.id)).toEqual(all.slice(0, 2));
          const rest = await store.list({
            labels: every(),
            includeDeleted: true,
            limit: 2,
            cursor: first.nextCursor ?? undefined,
          });
          expect(rest.items.map((i) => i.id)).toEqual([all[2]]);
          expect(rest.nextCursor).toBeNull();
        });

        it('never counts a sandbox with fewer labels, or a pair matched under another key', async () => {
          // v0 is the value of k0; asked under k1 it matches no row, so the count stays short.
          expect(await listIds({ labels: { listRun, k0: 'v0', k1: 'v0' }, limit: 100 })).toEqual(
            [],
          );
          expect(await listIds({ labels: { listRun, k0: 'v0', k1: 'v1' }, limit: 100 })).toEqual([
            ...all.slice(0, 2),
            partial,
          ]);
          // Five pairs and more take the other shape on SQLite: the same answers.
          const five = { listRun, k0: 'v0', k1: 'v1', k2: 'v2', k3: 'v3' };
          expect(await listIds({ labels: five, limit: 100 })).toEqual([
            ...all.slice(0, 2),
            partial,
          ]);
          expect(await listIds({ labels: { ...five, k3: 'v0' }, limit: 100 })).toEqual([]);
          expect(await listIds({ labels: { ...five, k62: 'other' }, limit: 100 })).toEqual([
            partial,
          ]);
        });
      });

      it('rejects a malformed cursor and a bad limit with VALIDATION_FAILED', async () => {
        const error = await rejectionOf(store.list({ limit: 10, cursor: '%%%not-a-cursor' }));
        expect(isCodedError(error, 'VALIDATION_FAILED')).toBe(true);
        expect(error).toMatchObject({ details: { fields: { cursor: expect.any(Array) } } });
        expect(await codeOf(store.list({ limit: 0 }))).toBe('VALIDATION_FAILED');
      });

      it('lists records with an operation in flight, and by state', async () => {
        const busy = await insert({ state: 'running', operation: 'stopping' });
        const inFlight = (await store.listWithOperationInFlight()).map((r) => r.info.id);
        expect(inFlight).toContain(busy.info.id);
        expect(inFlight).not.toContain(ids.a);
        const flight = (await store.listWithOperationInFlight()).find(
          (r) => r.info.id === busy.info.id,
        );
        expect(store.openEnv(flight!)).toEqual({ TOKEN: 'db-only-secret' });

        const stopped = (await store.listByStates(['stopped'], 100_000)).map((r) => r.info.id);
        expect(stopped).toContain(ids.c);
        expect(stopped).not.toContain(ids.a);
        expect(await store.listByStates(['stopped'], 1)).toHaveLength(1);
      });

      it('counts sandboxes by state', async () => {
        const counts = await store.countByState();
        expect(Object.keys(counts).sort()).toEqual(['deleted', 'pending', 'running', 'stopped']);
        if (h.exclusiveDatabase) {
          const rows = await h.dataSource.getRepository(SandboxEntity).find();
          const expected = { pending: 0, running: 0, stopped: 0, deleted: 0 };
          for (const row of rows) expected[row.state] += 1;
          expect(counts).toEqual(expected);
        } else {
          expect(counts.deleted).toBeGreaterThanOrEqual(1);
          expect(counts.stopped).toBeGreaterThanOrEqual(1);
        }
      });
    });

    describe('lifecycle deadlines', () => {
      const iso = (ms: number): string => new Date(ms).toISOString();
      const row = (id: string): Promise<SandboxEntity> =>
        h.dataSource.getRepository(SandboxEntity).findOneByOrFail({ id });
      /** The auto-stop index as member → score. */
      const indexed = async (): Promise<Map<string, number>> =>
        new Map(
          (await h.kv.zrangeByScoreWithScores(AUTO_STOP_INDEX_KEY, Infinity, 100_000)).map(
            ({ member, score }) => [member, score],
          ),
        );
      const live = { state: 'running', operation: null } as const;
      const stopped = { state: 'stopped', operation: null } as const;

      it('round-trips the lifecycle fields and mirrors the deadlines into their columns', async () => {
        const autoStopAt = '2030-01-01T00:00:00.000Z';
        const request = input({
          ...live,
          autoStopAt,
          protected: true,
          maxLifetimeSeconds: 3_600,
          lastActivityAt: '2029-12-31T23:30:00.000Z',
        });
        request.spec = { ...request.spec, maxLifetimeSeconds: 3_600 };
        const { record } = await store.insert(request);
        expect(record.info).toEqual(request.info);
        expect(await store.load(record.info.id)).toEqual(record);
        expect(await store.get(record.info.id)).toEqual(record.info);
        expect(await row(record.info.id)).toMatchObject({
          autoStopAt: Date.parse(autoStopAt),
          autoDeleteAt: null,
          protected: true,
        });

        const autoDeleteAt = '2030-01-02T00:00:00.000Z';
        const archived = await store.archiveCache(
          record.info.id,
          { ...stopped, autoStopAt: null, autoDeleteAt, protected: false },
          { expectedVersion: 1 },
        );
        expect(archived.info).toMatchObject({ autoStopAt: null, autoDeleteAt, protected: false });
        expect(await store.load(record.info.id)).toEqual(archived);
        expect(await row(record.info.id)).toMatchObject({
          autoStopAt: null,
          autoDeleteAt: Date.parse(autoDeleteAt),
          protected: false,
        });
      });

      it('rejects a deadline that is not an instant, or a protected flag that is not a boolean', async () => {
        expect(await codeOf(store.insert(input({ autoStopAt: 'soon' })))).toBe('VALIDATION_FAILED');
        expect(await codeOf(store.insert(input({ autoDeleteAt: 'later' })))).toBe(
          'VALIDATION_FAILED',
        );
        expect(await codeOf(store.insert(input({ protected: 'yes' as unknown as boolean })))).toBe(
          'VALIDATION_FAILED',
        );
        const record = await insert(live);
        expect(
          await codeOf(store.update(record.info.id, { autoStopAt: 'x' }, { expectedVersion: 1 })),
        ).toBe('VALIDATION_FAILED');
      });

      it('keeps the auto-stop index in step with state and deadline changes', async () => {
        const t = Date.parse('2030-03-01T00:00:00.000Z');
        const record = await insert({ ...live, autoStopAt: iso(t) });
        const id = record.info.id;
        expect((await indexed()).get(id)).toBe(t);

        let current = await store.update(
          id,
          { autoStopAt: iso(t + 60_000) },
          { expectedVersion: 1 },
        );
        expect((await indexed()).get(id)).toBe(t + 60_000);

        current = await store.update(
          id,
          { autoStopAt: null },
          { expectedVersion: current.version },
        );
        expect((await indexed()).has(id)).toBe(false);

        current = await store.update(
          id,
          { autoStopAt: iso(t) },
          { expectedVersion: current.version },
        );
        expect((await indexed()).get(id)).toBe(t);

        // Leaving the live states removes it, even if the info still carries a deadline.
        current = await store.archiveCache(id, stopped, { expectedVersion: current.version });
        expect(current.info.autoStopAt).toBe(iso(t));
        expect((await indexed()).has(id)).toBe(false);

        current = await store.update(
          id,
          { state: 'running', autoStopAt: iso(t + 5_000) },
          { expectedVersion: current.version },
        );
        expect((await indexed()).get(id)).toBe(t + 5_000);

        await h.flushCache();
        await store.restoreCache(id);
        expect((await indexed()).get(id)).toBe(t + 5_000);

        const notLive = await insert({ ...stopped, autoStopAt: iso(t) });
        const noDeadline = await insert({ state: 'pending', autoStopAt: null });
        const index = await indexed();
        expect(index.has(notLive.info.id)).toBe(false);
        expect(index.has(noDeadline.info.id)).toBe(false);
      });

      it('dueForAutoStop rebuilds a flushed index from the database, earliest deadline first', async () => {
        const base = Date.parse('2001-01-01T00:00:00.000Z');
        const at = async (offsetMs: number, overrides: Partial<SandboxInfo> = live) =>
          (await insert({ ...overrides, autoStopAt: iso(base + offsetMs) })).info.id;
        const a = await at(30_000);
        const b = await at(10_000);
        const c = await at(20_000, { state: 'pending', operation: 'starting' });
        const d = await at(10_000); // same deadline as b: ties by id
        const notYet = await at(3_600_000);
        const notLive = await at(5_000, stopped);
        const later = await at(40_000);

        await h.flushCache();
        expect(await h.kv.get(AUTO_STOP_INDEX_BUILT_KEY)).toBeNull();
        const due = await store.dueForAutoStop(new Date(base + 35_000), 1_000);
        expect(due.filter((id) => [a, b, c, d, notYet, notLive, later].includes(id))).toEqual([
          b,
          d,
          c,
          a,
        ]);
        expect(await h.kv.get(AUTO_STOP_INDEX_BUILT_KEY)).not.toBeNull();
        const index = await indexed();
        expect(index.get(notYet)).toBe(base + 3_600_000);
        expect(index.has(notLive)).toBe(false);

        // Ids from 2001 come before anything else this suite stores, so the limit cuts here.
        expect(await store.dueForAutoStop(new Date(base + 35_000), 2)).toEqual([b, d]);
        expect(await store.dueForAutoStop(new Date(base + 10_000), 1_000)).toEqual([b, d]);
        expect((await store.dueForAutoStop(new Date(base + 45_000), 1_000)).slice(0, 5)).toEqual([
          b,
          d,
          c,
          a,
          later,
        ]);
      });

      it('dueForAutoStop repairs stale index entries instead of returning them', async () => {
        const base = Date.parse('2001-02-01T00:00:00.000Z');
        await store.dueForAutoStop(new Date(base), 1); // the index is built from here on
        const due = await insert({ ...live, autoStopAt: iso(base + 10_000) });
        const stoppedOne = await insert({ ...stopped });
        const movedLater = await insert({ ...live, autoStopAt: '2031-01-01T00:00:00.000Z' });
        const ghost = `ghost-${newId()}`;
        // Entries a lost write or a racing rebuild could leave behind.
        await h.kv.zadd(AUTO_STOP_INDEX_KEY, base + 1, ghost);
        await h.kv.zadd(AUTO_STOP_INDEX_KEY, base + 2, stoppedOne.info.id);
        await h.kv.zadd(AUTO_STOP_INDEX_KEY, base + 3, movedLater.info.id);

        const result = await store.dueForAutoStop(new Date(base + 20_000), 1_000);
        expect(result).toContain(due.info.id);
        expect(result).not.toContain(ghost);
        expect(result).not.toContain(stoppedOne.info.id);
        expect(result).not.toContain(movedLater.info.id);
        const index = await indexed();
        expect(index.has(ghost)).toBe(false);
        expect(index.has(stoppedOne.info.id)).toBe(false);
        expect(index.get(movedLater.info.id)).toBe(Date.parse('2031-01-01T00:00:00.000Z'));
        expect(index.get(due.info.id)).toBe(base + 10_000);
      });

      it('dueForAutoStop finds due entries behind a run of stale ones', async () => {
        // Before every other deadline of this suite, so the stale entries are the head.
        const base = Date.parse('1999-01-01T00:00:00.000Z');
        await store.dueForAutoStop(new Date(base), 1);
        const due = await insert({ ...live, autoStopAt: iso(base + 10_000) });
        for (let i = 0; i < 4; i += 1) {
          await h.kv.zadd(AUTO_STOP_INDEX_KEY, base + i, `stale-${i}-${newId()}`);
        }
        expect(await store.dueForAutoStop(new Date(base + 20_000), 3)).toContain(due.info.id);
      });

      it('dueForAutoDelete: stopped, unprotected and due; oldest deadline first, ties by id', async () => {
        const base = Date.parse('2000-06-01T00:00:00.000Z');
        const at = async (offsetMs: number | null, overrides: Partial<SandboxInfo> = stopped) =>
          (
            await insert({
              ...overrides,
              autoDeleteAt: offsetMs === null ? null : iso(base + offsetMs),
            })
          ).info.id;
        const p1 = await at(30_000);
        const p2 = await at(10_000);
        const p3 = await at(10_000);
        const p4 = await at(20_000);
        const guarded = await at(5_000, { ...stopped, protected: true });
        await at(1_000, live);
        await at(2_000, { state: 'deleted', operation: null });
        await at(600_000);
        await at(null);

        const now = new Date(base + 60_000);
        expect(await store.dueForAutoDelete(now, 100)).toEqual([p2, p3, p4, p1]);
        expect(await store.dueForAutoDelete(now, 2)).toEqual([p2, p3]);
        expect(await store.dueForAutoDelete(new Date(base + 10_000), 100)).toEqual([p2, p3]);
        expect(await store.dueForAutoDelete(new Date(base + 9_999), 100)).toEqual([]);

        const unprotected = await store.update(
          guarded,
          { protected: false },
          { expectedVersion: 1 },
        );
        expect(unprotected.info.protected).toBe(false);
        expect(await store.dueForAutoDelete(now, 100)).toEqual([guarded, p2, p3, p4, p1]);
      });

      it('rejects a bad limit or instant with VALIDATION_FAILED', async () => {
        const now = new Date();
        expect(await codeOf(store.dueForAutoDelete(now, 0))).toBe('VALIDATION_FAILED');
        expect(await codeOf(store.dueForAutoDelete(now, 1.5))).toBe('VALIDATION_FAILED');
        expect(await codeOf(store.dueForAutoDelete(new Date('nope'), 10))).toBe(
          'VALIDATION_FAILED',
        );
        expect(await codeOf(store.dueForAutoStop(now, -1))).toBe('VALIDATION_FAILED');
        expect(await codeOf(store.dueForAutoStop(new Date(Number.NaN), 10))).toBe(
          'VALIDATION_FAILED',
        );
      });
    });

    describe('resources', () => {
      const GiB = 1_073_741_824;
      const live = { state: 'running', operation: null } as const;
      const row = (id: string): Promise<SandboxEntity> =>
        h.dataSource.getRepository(SandboxEntity).findOneByOrFail({ id });
      const disk = {
        requested: '10g',
        requestedBytes: 10 * GiB,
        enforced: false,
        reason: 'the storage driver has no per-container quota',
      };

      /** A reading of the live rows, independent of the store. */
      interface LiveRows {
        /** Sums over the live rows' info blobs. */
        totals: CommittedResources;
        /** The live rows this suite did not create, as id@version: other writers' footprint. */
        foreign: string;
      }
      const readLiveRows = async (): Promise<LiveRows> => {
        const rows = await h.dataSource.getRepository(SandboxEntity).find({
          select: { id: true, version: true, info: true },
          where: { state: In([...LIVE_STATES]) },
          order: { id: 'ASC' },
        });
        return {
          totals: {
            sandboxes: rows.length,
            cpus: rows.reduce((sum, r) => sum + (r.info.cpus ?? 0), 0),
            memoryBytes: rows.reduce((sum, r) => sum + (r.info.memoryBytes ?? 0), 0),
          },
          foreign: rows
            .filter((r) => !created.includes(r.id))
            .map((r) => `${r.id}@${r.version}`)
            .join(','),
        };
      };
      /**
       * committedResources equals the sums over the live rows. The rows are read before and after
       * it, and compared only once both reads agree: on a shared database another process may
       * create or stop sandboxes meanwhile.
       */
      const expectTotalsOfLiveRows = async (): Promise<LiveRows> => {
        for (let attempt = 1; ; attempt += 1) {
          const before = await readLiveRows();
          const totals = await store.committedResources();
          const after = await readLiveRows();
          if (before.foreign === after.foreign || attempt >= 5) {
            expect(totals.sandboxes).toBe(after.totals.sandboxes);
            expect(totals.memoryBytes).toBe(after.totals.memoryBytes);
            expect(totals.cpus).toBeCloseTo(after.totals.cpus, 9);
            for (const value of Object.values(totals)) expect(typeof value).toBe('number');
            return { ...after, totals };
          }
        }
      };
      /** b − a, with the cpus difference rounded off (float sums). */
      const delta = (a: CommittedResources, b: CommittedResources): CommittedResources => ({
        sandboxes: b.sandboxes - a.sandboxes,
        cpus: Math.round((b.cpus - a.cpus) * 1e9) / 1e9,
        memoryBytes: b.memoryBytes - a.memoryBytes,
      });

      it('round-trips the resource fields through insert, update, archiveCache and get', async () => {
        const request = input({
          ...live,
          cpus: 2,
          memoryBytes: 2 * GiB,
          pidsLimit: 256,
          runtime: 'runsc',
          disk,
          logDirQuota: null,
        });
        request.spec = {
          ...request.spec,
          cpus: 2,
          memoryBytes: 2 * GiB,
          pidsLimit: 256,
          diskBytes: 10 * GiB,
          disk: '10g',
          runtime: 'runsc',
        };
        const { record } = await store.insert(request);
        const id = record.info.id;
        expect(record.info).toEqual(request.info);
        expect(opened(record).spec).toEqual(request.spec);
        expect(await store.load(id)).toEqual(record);
        expect(JSON.parse((await rawAlive(id)) ?? '')).toEqual(record.info);
        expect(await store.get(id)).toEqual(record.info);
        expect(await row(id)).toMatchObject({ cpus: 2, memoryBytes: 2 * GiB });

        const logDirQuota = { shared: false, projectId: 4_242, reason: null };
        const updated = await store.update(
          id,
          { logDirQuota, disk: { ...disk, enforced: true, reason: null }, cpus: 0.5 },
          { expectedVersion: 1 },
        );
        expect(updated.info).toMatchObject({
          logDirQuota,
          disk: { ...disk, enforced: true, reason: null },
          cpus: 0.5,
          pidsLimit: 256,
          runtime: 'runsc',
        });
        expect(opened(updated).spec).toEqual(request.spec);
        expect(await store.load(id)).toEqual(updated);
        expect(await store.get(id)).toEqual(updated.info); // from the cache
        expect(await row(id)).toMatchObject({ cpus: 0.5, memoryBytes: 2 * GiB });
        await h.flushCache();
        expect(await store.get(id)).toEqual(updated.info); // from the database

        await store.restoreCache(id);
        const archived = await store.archiveCache(
          id,
          { state: 'stopped', operation: null, memoryBytes: GiB },
          { expectedVersion: updated.version },
        );
        expect(archived.info).toEqual({
          ...updated.info,
          state: 'stopped',
          operation: null,
          memoryBytes: GiB,
        });
        expect(await store.load(id)).toEqual(archived);
        expect(await store.get(id)).toEqual(archived.info);
        expect(await row(id)).toMatchObject({ cpus: 0.5, memoryBytes: GiB });
      });

      it('mirrors no limit as NULL columns', async () => {
        const record = await insert({ cpus: null, memoryBytes: null });
        expect(await row(record.info.id)).toMatchObject({ cpus: null, memoryBytes: null });
        expect(await store.load(record.info.id)).toEqual(record);
      });

      it('rejects resource values the columns or the totals cannot take', async () => {
        expect(await codeOf(store.insert(input({ cpus: -1 })))).toBe('VALIDATION_FAILED');
        expect(await codeOf(store.insert(input({ memoryBytes: 0.5 })))).toBe('VALIDATION_FAILED');
        expect(await codeOf(store.insert(input({ runtime: '' })))).toBe('VALIDATION_FAILED');
        const record = await insert();
        expect(
          await codeOf(store.update(record.info.id, { cpus: Number.NaN }, { expectedVersion: 1 })),
        ).toBe('VALIDATION_FAILED');
        expect((await store.load(record.info.id))?.version).toBe(1);
      });

      /**
       * The change in committedResources between two readings. Exact wherever no other writer
       * touched a live row in between (always on an exclusive database); otherwise the readings
       * themselves still matched the live rows.
       */
      const expectDelta = (a: LiveRows, b: LiveRows, expected: CommittedResources): void => {
        if (!h.exclusiveDatabase && a.foreign !== b.foreign) return;
        expect(delta(a.totals, b.totals)).toEqual(expected);
      };

      it('committedResources sums only live sandboxes, as numbers', async () => {
        const before = await expectTotalsOfLiveRows();
        await insert({ state: 'pending', operation: 'starting', cpus: 1.5, memoryBytes: GiB });
        await insert({ ...live, cpus: null, memoryBytes: GiB / 2 });
        await insert({ ...live, cpus: 0.25, memoryBytes: null });
        await insert({ state: 'stopped', operation: null, cpus: 4, memoryBytes: 4 * GiB });
        await insert({ state: 'deleted', operation: null, cpus: 8, memoryBytes: 8 * GiB });
        const after = await expectTotalsOfLiveRows();
        expectDelta(before, after, { sandboxes: 3, cpus: 1.75, memoryBytes: GiB + GiB / 2 });
      });

      it('committedResources follows state and limit changes', async () => {
        const zero = { sandboxes: 0, cpus: 0, memoryBytes: 0 };
        let last = await expectTotalsOfLiveRows();
        const step = async (expected: CommittedResources): Promise<void> => {
          const now = await expectTotalsOfLiveRows();
          expectDelta(last, now, expected);
          last = now;
        };

        let current = await insert({ cpus: 0.5, memoryBytes: GiB }); // pending
        await step({ sandboxes: 1, cpus: 0.5, memoryBytes: GiB });
        const id = current.info.id;
        const next = (patch: Partial<SandboxInfo>) =>
          store.update(id, patch, { expectedVersion: current.version });

        current = await next({ state: 'running', operation: null });
        await step(zero);
        current = await next({ cpus: 2, memoryBytes: 3 * GiB });
        await step({ sandboxes: 0, cpus: 1.5, memoryBytes: 2 * GiB });
        current = await store.archiveCache(
          id,
          { state: 'stopped', operation: null },
          { expectedVersion: current.version },
        );
        await step({ sandboxes: -1, cpus: -2, memoryBytes: -3 * GiB });
        current = await next({ state: 'pending', operation: 'starting' }); // restart
        await step({ sandboxes: 1, cpus: 2, memoryBytes: 3 * GiB });
        current = await next({ cpus: null }); // the limit lifted
        await step({ sandboxes: 0, cpus: -2, memoryBytes: 0 });
        current = await store.archiveCache(
          id,
          { state: 'deleted', operation: null, deletedAt: new Date().toISOString() },
          { expectedVersion: current.version },
        );
        await step({ sandboxes: -1, cpus: 0, memoryBytes: -3 * GiB });
        expect(await row(id)).toMatchObject({ state: 'deleted', cpus: null, memoryBytes: 3 * GiB });
      });
    });

    describe('stored data that fails its schema', () => {
      /** Overwrites the info column of `id` with `value` (any JSON) or raw SQL text. */
      const corruptInfo = async (id: string, value: unknown): Promise<void> => {
        await h.dataSource
          .createQueryBuilder()
          .update(SandboxEntity)
          .set({ info: value as SandboxInfo })
          .where('id = :id', { id })
          .execute();
      };
      const notJson = async (id: string): Promise<void> => {
        await h.dataSource
          .createQueryBuilder()
          .update(SandboxEntity)
          .set({ info: () => "'{not json'" })
          .where('id = :id', { id })
          .execute();
      };
      const corruptCode = async (read: Promise<unknown>, id: string): Promise<void> => {
        const error = await rejectionOf(read);
        expect(isCoded(error, 'RECORD_CORRUPT')).toBe(true);
        expect(error).toMatchObject({ details: { sandboxId: id } });
      };
      const running = { state: 'running', operation: null } as const;

      it('answers RECORD_CORRUPT for that sandbox alone: a missing field, a wrong value, no JSON', async () => {
        const ok = await insert(running);
        const cases: [string, (id: string, info: SandboxInfo) => Promise<void>][] = [
          ['missing', (id, info) => corruptInfo(id, { ...info, runtime: undefined })],
          ['wrong', (id, info) => corruptInfo(id, { ...info, state: 'zombie' })],
          ['text', (id) => notJson(id)],
        ];
        for (const [, corrupt] of cases) {
          const bad = await insert(running);
          const id = bad.info.id;
          await corrupt(id, bad.info);
          await h.flushCache();
          await corruptCode(store.load(id), id);
          await corruptCode(store.get(id), id);
          await corruptCode(store.update(id, { host: 'h' }, { expectedVersion: 1 }), id);
        }
        expect((await store.load(ok.info.id))?.info).toEqual(ok.info);
        expect(await store.get(ok.info.id)).toEqual(ok.info);
      });

      it('leaves a corrupt row out of list pages, which still reach every readable sandbox', async () => {
        const labels = { run, corruptList: newId() };
        const ids = [];
        for (let i = 0; i < 4; i += 1) ids.push((await insert({ ...running, labels })).info.id);
        const bad = await store.load(ids[1]);
        await corruptInfo(ids[1], { ...bad!.info, cpus: 'two' });
        await notJson(ids[2]);
        const readable = [ids[0], ids[3]].sort();

        const all = await store.list({ labels, limit: 10 });
        expect(all.items.map((i) => i.id).sort()).toEqual(readable);
        // Page by page (one row each), the cursor moves past the corrupt rows too.
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < 10; page += 1) {
          const result = await store.list({ labels, limit: 1, cursor });
          seen.push(...result.items.map((i) => i.id));
          if (result.nextCursor === null) break;
          cursor = result.nextCursor;
        }
        expect(seen.sort()).toEqual(readable);
      });

      it('skips a corrupt row in the scan reads (loadMany, listByStates, operations in flight)', async () => {
        const a = await insert(running);
        const bad = await insert(running);
        const flight = await insert({ state: 'pending', operation: 'starting' });
        const badFlight = await insert({ state: 'pending', operation: 'starting' });
        await notJson(bad.info.id);
        await corruptInfo(badFlight.info.id, { ...badFlight.info, protected: 'yes' });
        const ids = [a, bad, flight, badFlight].map((r) => r.info.id);

        expect((await store.loadMany(ids)).map((r) => r.info.id)).toEqual([
          a.info.id,
          flight.info.id,
        ]);
        const inFlight = (await store.listWithOperationInFlight()).map((r) => r.info.id);
        expect(inFlight).toContain(flight.info.id);
        expect(inFlight).not.toContain(badFlight.info.id);
        const live: string[] = [];
        let afterId: string | undefined;
        for (;;) {
          const page = await store.listByStates(LIVE_STATES, 500, afterId);
          live.push(...page.map((r) => r.info.id));
          if (page.length < 500) break;
          afterId = page[page.length - 1].info.id;
        }
        expect(live).toEqual(expect.arrayContaining([a.info.id, flight.info.id]));
        expect(live).not.toContain(bad.info.id);
        expect(live).not.toContain(badFlight.info.id);
      });

      it.each([
        ['a wrong value', (info: SandboxInfo) => JSON.stringify({ ...info, memoryBytes: -1 })],
        [
          'a missing field',
          (info: SandboxInfo) => JSON.stringify({ ...info, fromPool: undefined }),
        ],
        ['another sandbox', (info: SandboxInfo) => JSON.stringify({ ...info, id: 'other' })],
        ['no JSON', () => '{not json'],
      ])(
        'treats a cache entry with %s as a miss, reads the database and evicts it',
        async (_, entry) => {
          const record = await insert(running);
          const id = record.info.id;
          expect(await rawAlive(id)).not.toBeNull();
          await h.kv.set(aliveKey(id), entry(record.info));
          expect(await store.get(id)).toEqual(record.info);
          expect(await rawAlive(id)).toBeNull();
        },
      );
    });

    describe('reconciler reads', () => {
      it('loadMany returns the records that exist, in the order asked, across batches', async () => {
        const [a, b, c] = [
          await insert(),
          await insert({ state: 'stopped', operation: null }),
          await insert(),
        ];
        const missing = `missing-${newId()}`;
        const records = await store.loadMany([c.info.id, missing, a.info.id, a.info.id, b.info.id]);
        expect(records).toEqual([c, a, b]);

        const many = Array.from({ length: LOAD_MANY_BATCH * 2 + 10 }, (_, i) => `none-${i}`);
        many.splice(LOAD_MANY_BATCH + 3, 0, b.info.id);
        many.push(a.info.id);
        expect((await store.loadMany(many)).map((r) => r.info.id)).toEqual([b.info.id, a.info.id]);
        expect(await store.loadMany([])).toEqual([]);
      });

      it('listByStates pages by id after afterId, matching one big read', async () => {
        const mine = [
          await insert(),
          await insert({ state: 'stopped', operation: null }),
          await insert(),
          await insert(),
        ];
        await insert({ state: 'deleted', operation: null });
        const first = mine[0].info.id;
        // Every id of this run shares the prefix, which sorts just before them.
        const start = first.slice(0, first.lastIndexOf('-'));
        const states: SandboxState[] = ['pending', 'stopped'];
        const all = (await store.listByStates(states, 100_000, start)).map((r) => r.info.id);
        const paged: string[] = [];
        let after = start;
        for (let pages = 0; pages < 10_000; pages += 1) {
          const page = await store.listByStates(states, 2, after);
          expect(page.length).toBeLessThanOrEqual(2);
          expect(page.every((r) => states.includes(r.info.state))).toBe(true);
          paged.push(...page.map((r) => r.info.id));
          if (page.length < 2) break;
          after = page[page.length - 1].info.id;
        }
        expect(paged).toEqual(all);
        expect([...paged].sort()).toEqual(paged);
        expect(paged).toEqual(expect.arrayContaining(mine.map((r) => r.info.id)));
        expect(await store.listByStates([], 10)).toEqual([]);
        expect(await store.listByStates(states, 0)).toEqual([]);
      });

      it('knownInstanceIds lists each instance that created a sandbox once, sorted', async () => {
        const [x, y] = [`inst-${newId()}-x`, `inst-${newId()}-y`];
        await insert({ instanceId: y });
        await insert({ instanceId: x });
        await insert({ instanceId: x, state: 'deleted', operation: null });
        const known = await store.knownInstanceIds();
        expect(known.filter((id) => id === x || id === y)).toEqual([x, y]);
        expect(new Set(known).size).toBe(known.length);
        expect([...known].sort()).toEqual(known);
      });
    });

    describe('health', () => {
      it('pings the database and the cache', async () => {
        await expect(store.pingDatabase()).resolves.toBeUndefined();
        await expect(store.pingCache()).resolves.toBeUndefined();
      });
    });
  });
}
