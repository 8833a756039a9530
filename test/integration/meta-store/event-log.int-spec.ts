import 'reflect-metadata';
import { loadConfig } from '@app/config';
import { eventViewOf, isCodedError, NewSandboxEvent, SandboxEventRecord } from '@app/domain';
import type { SandboxInfo } from '@app/domain';
import {
  MemoryKeyValueStore,
  RedisKeyValueStore,
  SandboxEventLog,
  SandboxMetaStore,
  buildDataSourceOptions,
  initializeDataSource,
} from '@app/meta-store';
import type { KeyValueStore } from '@app/meta-store';
import { DataSource } from 'typeorm';
import {
  makeSandboxInfo,
  makeSandboxSpec,
  testKeyring,
} from '../../../libs/meta-store/src/testing/sandbox-fixtures';
import {
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  deleteKeysWithPrefix,
  idFactory,
  rejectionOf,
  tempSqlite,
  uniquePrefix,
} from './meta-store-support';

interface Harness {
  dataSource: DataSource;
  kv: KeyValueStore;
  close(): Promise<void>;
}

const SYSTEM = { kind: 'system', tenant: null, keyId: null } as const;

function eventOf(
  type: NewSandboxEvent['type'],
  info: SandboxInfo,
  tenant: string | null = null,
): NewSandboxEvent {
  return {
    type,
    at: new Date().toISOString(),
    sandboxId: info.id,
    actor: SYSTEM,
    tenant,
    reason: null,
    detail: null,
    sandbox: eventViewOf(info),
  };
}

/** The outbox half of the store, on each database: events land with their change or not at all. */
function describeEventLog(name: string, open: () => Promise<Harness>): void {
  describe(`the event log on ${name}`, () => {
    let h: Harness;
    let store: SandboxMetaStore;
    let log: SandboxEventLog;
    const newId = idFactory(name.replace(/[^a-z]/gi, '').slice(0, 6));

    beforeAll(async () => {
      h = await open();
      store = new SandboxMetaStore(h.dataSource, h.kv, testKeyring());
      log = new SandboxEventLog(h.dataSource);
    });
    afterAll(() => h.close());

    const insert = async (tenant: string | null = null) => {
      const info = makeSandboxInfo({ id: newId() });
      const result = await store.insert({
        info,
        spec: makeSandboxSpec(),
        machineSnapshot: null,
        machineVersion: '1',
        events: [eventOf('sandbox.created', info, tenant)],
      });
      return result;
    };

    it('writes the created event with the insert, and returns it with its id', async () => {
      const { record, events } = await insert();
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ type: 'sandbox.created', sandboxId: record.info.id });
      const logged = await log.list({ sandboxId: record.info.id, limit: 10 });
      expect(logged).toEqual(events);
    });

    it('commits the events of an update with it, and none of a stale one', async () => {
      const { record } = await insert();
      const id = record.info.id;
      const committed: SandboxEventRecord[] = [];
      const updated = await store.update(
        id,
        { state: 'running', operation: null },
        {
          expectedVersion: 1,
          current: record,
          events: (info) => [eventOf('sandbox.running', info)],
          onCommitted: (events) => committed.push(...events),
        },
      );
      expect(committed).toHaveLength(1);
      expect(committed[0].sandbox).toMatchObject({ state: 'running' });
      const stale = await rejectionOf(
        store.archiveCache(
          id,
          { state: 'stopped' },
          { expectedVersion: 1, events: (info) => [eventOf('sandbox.stopped', info)] },
        ),
      );
      expect(isCodedError(stale) && stale.code).toBe('CONCURRENT_MODIFICATION');
      const logged = await log.list({ sandboxId: id, limit: 10 });
      expect(logged.map((e) => e.type)).toEqual(['sandbox.created', 'sandbox.running']);
      expect(updated.version).toBe(2);
    });

    it('filters by type, sandbox and tenant, in id order', async () => {
      const a = await insert('tenant-a');
      const b = await insert('tenant-b');
      const mine = await log.list({ tenant: 'tenant-a', limit: 100 });
      expect(mine.map((e) => e.sandboxId)).toContain(a.record.info.id);
      expect(mine.map((e) => e.sandboxId)).not.toContain(b.record.info.id);
      const created = await log.list({ types: ['sandbox.created'], limit: 1000 });
      expect(created.every((e) => e.type === 'sandbox.created')).toBe(true);
      const ids = created.map((e) => Number(e.id));
      expect([...ids].sort((x, y) => x - y)).toEqual(ids);
      const after = await log.list({ afterId: Number(a.events[0].id), limit: 100 });
      expect(after.map((e) => e.id)).toContain(b.events[0].id);
      expect(after.map((e) => e.id)).not.toContain(a.events[0].id);
    });

    it('lets a reader that pages on the newest id see every event of concurrent writers exactly once', async () => {
      const start = await log.latestId();
      const seen: string[] = [];
      let cursor = start;
      let writing = true;
      const reader = (async () => {
        while (writing || (await log.list({ afterId: cursor, limit: 1 })).length > 0) {
          const page = await log.list({ afterId: cursor, limit: 7 });
          for (const event of page) seen.push(event.id);
          cursor = Number(page.at(-1)?.id ?? cursor);
          if (page.length === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      const records = await Promise.all(Array.from({ length: 12 }, () => insert()));
      await Promise.all(
        records.map(async ({ record }) => {
          let current = record;
          for (let i = 0; i < 4; i++) {
            current = await store.update(
              current.info.id,
              { lastActivityAt: new Date().toISOString() },
              {
                expectedVersion: current.version,
                current,
                events: (info) => [eventOf('sandbox.protection_changed', info)],
              },
            );
          }
        }),
      );
      writing = false;
      await reader;
      const all = await log.list({ afterId: start, limit: 10_000 });
      const mineOnly = new Set(records.map((r) => r.record.info.id));
      const expected = all.filter((e) => mineOnly.has(e.sandboxId)).map((e) => e.id);
      expect(expected).toHaveLength(12 * 5);
      expect(seen.filter((id) => expected.includes(id))).toEqual(expected);
      expect(new Set(seen).size).toBe(seen.length);
    });

    it('prunes the events older than the cutoff, oldest first, in batches', async () => {
      const { events } = await insert();
      const before = Date.parse(events[0].at) + 1;
      let pruned = 0;
      for (let n = await log.prune(before, 5); n > 0; n = await log.prune(before, 5)) pruned += n;
      expect(pruned).toBeGreaterThan(0);
      expect(await log.list({ sandboxId: events[0].sandboxId, limit: 10 })).toEqual([]);
      // Ids keep growing past a pruned log: a cursor never sees an id again.
      const next = await insert();
      expect(Number(next.events[0].id)).toBeGreaterThan(Number(events[0].id));
    });
  });
}

describeEventLog('PostgreSQL + Redis', async () => {
  const prefix = uniquePrefix('events');
  const config = loadConfig({
    DATABASE_URL: TEST_DATABASE_URL,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
  });
  const dataSource = await initializeDataSource(
    buildDataSourceOptions(config.store, testKeyring()),
  );
  const kv = new RedisKeyValueStore(TEST_REDIS_URL, prefix);
  return {
    dataSource,
    kv,
    close: async () => {
      await deleteKeysWithPrefix(prefix);
      await kv.close();
      await dataSource.destroy();
    },
  };
});

describeEventLog('SQLite + memory', async () => {
  const file = tempSqlite();
  const config = loadConfig({ SQLITE_PATH: file.path });
  const dataSource = await initializeDataSource(
    buildDataSourceOptions(config.store, testKeyring()),
  );
  return {
    dataSource,
    kv: new MemoryKeyValueStore(),
    close: async () => {
      await dataSource.destroy();
      file.remove();
    },
  };
});
