import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '@app/config';
import { isCodedError } from '@app/domain';
import { ApiKeyStore, buildDataSourceOptions, initializeDataSource } from '@app/meta-store';
import { DataSource } from 'typeorm';
import { ApiKeyVerifier, KEY_CACHE_TTL_MS } from '../../../libs/auth/src/api-key-verifier';
import { ApiKeys } from '../../../libs/auth/src/api-keys.service';
import { FailedAuthLimiter } from '../../../libs/auth/src/failed-auth-limiter';
import { testKeyring } from '../../../libs/meta-store/src/testing/sandbox-fixtures';
import { createScratchDatabase } from '../../support/database';
import {
  TEST_REDIS_URL,
  deleteKeysWithPrefix,
  rejectionOf,
  tempSqlite,
  uniquePrefix,
} from '../meta-store/meta-store-support';

/** Two "replicas" of the key path (verifier + admin service each) on one database. */
interface Backing {
  dataSource: DataSource;
  close(): Promise<void>;
}

async function sqlite(): Promise<Backing> {
  const file = tempSqlite();
  const dataSource = await initializeDataSource(
    buildDataSourceOptions(loadConfig({ SQLITE_PATH: file.path }).store, testKeyring()),
  );
  return {
    dataSource,
    close: async () => {
      await dataSource.destroy();
      file.remove();
    },
  };
}

async function postgres(): Promise<Backing> {
  const database = await createScratchDatabase('auth');
  const dataSource = await initializeDataSource(
    buildDataSourceOptions(loadConfig({ DATABASE_URL: database.url }).store, testKeyring()),
  );
  return {
    dataSource,
    close: async () => {
      await dataSource.destroy();
      await database.drop();
    },
  };
}

function replica(dataSource: DataSource) {
  const store = new ApiKeyStore(dataSource);
  const verifier = new ApiKeyVerifier(store);
  return { store, verifier, keys: new ApiKeys(store, verifier) };
}

describe.each([
  ['SQLite', sqlite],
  ['PostgreSQL', postgres],
])('API keys on %s', (_name, open) => {
  let backing: Backing;

  beforeAll(async () => {
    backing = await open();
  });

  afterAll(async () => {
    await backing?.close();
  });

  it('should store only the hash, and find the key by its id', async () => {
    const { keys, store, verifier } = replica(backing.dataSource);
    const made = await keys.create({ tenant: 'team-a', name: 'ci runner' });
    expect(made.key).toMatch(/^sbxd_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const rows = await backing.dataSource.query(`SELECT * FROM api_key`);
    expect(JSON.stringify(rows)).not.toContain(made.key.slice(22));
    const record = await store.findById(made.id);
    expect(record).toMatchObject({ tenant: 'team-a', name: 'ci runner', revokedAt: null });
    expect(record?.keyHash).toMatch(/^[0-9a-f]{64}$/);
    expect(await verifier.verify(made.key)).toMatchObject({ id: made.id, tenant: 'team-a' });
    // The right id with a wrong secret, and a string that is not our shape, are refused.
    expect(await verifier.verify(`${made.key.slice(0, -1)}x`)).toBeNull();
    expect(await verifier.verify(made.key.slice(0, 22) + 'A'.repeat(43))).toBeNull();
    expect(await verifier.verify('not-a-key')).toBeNull();
  });

  it('should list live keys oldest first, filtered by tenant, never with a key', async () => {
    const { keys } = replica(backing.dataSource);
    const b1 = await keys.create({ tenant: 'team-b', name: 'one' });
    await sleep(2);
    const b2 = await keys.create({ tenant: 'team-b', name: 'two' });
    const listed = await keys.list('team-b');
    expect(listed.map((k) => k.id)).toEqual([b1.id, b2.id]);
    expect(listed[0]).toEqual({
      id: b1.id,
      name: 'one',
      tenant: 'team-b',
      prefix: `sbxd_${b1.id}`,
      createdAt: b1.createdAt,
      lastUsedAt: null,
    });
    expect(JSON.stringify(await keys.list())).not.toContain(b1.key);
    await keys.revoke(b2.id);
    expect((await keys.list('team-b')).map((k) => k.id)).toEqual([b1.id]);
  });

  it('should refuse a revoked key on every replica within the cache time', async () => {
    const a = replica(backing.dataSource);
    const b = replica(backing.dataSource);
    const made = await a.keys.create({ tenant: 'team-c', name: 'revoked' });
    expect(await a.verifier.verify(made.key)).not.toBeNull();
    expect(await b.verifier.verify(made.key)).not.toBeNull();
    await a.keys.revoke(made.id);
    // The replica that revoked refuses at once; the other once its read is older than the TTL.
    expect(await a.verifier.verify(made.key)).toBeNull();
    await sleep(KEY_CACHE_TTL_MS + 50);
    expect(await b.verifier.verify(made.key)).toBeNull();
    // Revoking again is a no-op; an id that never was is API_KEY_NOT_FOUND.
    await a.keys.revoke(made.id);
    for (const id of ['0123456789abcdef', 'not-an-id', '']) {
      const error = await rejectionOf(a.keys.revoke(id));
      expect(isCodedError(error, 'API_KEY_NOT_FOUND')).toBe(true);
    }
  });

  it('should write lastUsedAt once per interval, not on every use', async () => {
    const first = replica(backing.dataSource);
    const made = await first.keys.create({ tenant: 'team-d', name: 'used' });
    for (let i = 0; i < 20; i += 1) expect(await first.verifier.verify(made.key)).not.toBeNull();
    const used = await eventuallyUsed(first.store, made.id);
    await sleep(5);
    // Another replica's first use finds a recent enough mark and leaves it.
    const second = replica(backing.dataSource);
    expect(await second.verifier.verify(made.key)).not.toBeNull();
    await sleep(50);
    expect((await first.store.findById(made.id))?.lastUsedAt).toBe(used);
    // A write older than the interval is replaced; a revoked key's is never written.
    await first.store.recordUse(made.id, used + 61_000, used + 1);
    expect((await first.store.findById(made.id))?.lastUsedAt).toBe(used + 61_000);
    await first.keys.revoke(made.id);
    await first.store.recordUse(made.id, used + 200_000, used + 150_000);
    expect((await first.store.findById(made.id))?.lastUsedAt).toBe(used + 61_000);
  });

  it('should refuse bad tenants and names before writing', async () => {
    const { keys } = replica(backing.dataSource);
    for (const input of [
      { tenant: 'Team-A', name: 'x' },
      { tenant: '-a', name: 'x' },
      { tenant: 'a'.repeat(65), name: 'x' },
      { tenant: 'a/b', name: 'x' },
      { tenant: 'ok', name: '' },
      { tenant: 'ok', name: '   ' },
      { tenant: 'ok', name: 'a\u0000b' },
      { tenant: 'ok', name: 'x'.repeat(129) },
    ]) {
      const error = await rejectionOf(keys.create(input));
      expect(isCodedError(error, 'VALIDATION_FAILED')).toBe(true);
    }
    expect(await keys.list('ok')).toEqual([]);
  });
});

async function eventuallyUsed(store: ApiKeyStore, id: string): Promise<number> {
  for (let i = 0; i < 100; i += 1) {
    const at = (await store.findById(id))?.lastUsedAt;
    if (typeof at === 'number') return at;
    await sleep(20);
  }
  throw new Error('lastUsedAt was never written');
}

describe('failed authentications', () => {
  const auth = loadConfig({ AUTH_FAILURE_LIMIT: '3', AUTH_FAILURE_WINDOW_SECONDS: '30' }).auth;

  async function failures(limiter: FailedAuthLimiter, client: string, count: number) {
    const outcomes: string[] = [];
    for (let i = 0; i < count; i += 1) {
      const error = await rejectionOf(limiter.recordFailure(client)).catch(() => null);
      outcomes.push(error === null ? 'counted' : isCodedError(error) ? error.code : 'other');
    }
    return outcomes;
  }

  it('should block an address past the limit in memory, and only that address', async () => {
    const limiter = new FailedAuthLimiter(auth, loadConfig({}).store);
    try {
      expect(await failures(limiter, '198.51.100.1', 4)).toEqual([
        'counted',
        'counted',
        'counted',
        'AUTH_RATE_LIMITED',
      ]);
      const error = (() => {
        try {
          limiter.assertNotBlocked('198.51.100.1');
          return null;
        } catch (thrown) {
          return thrown;
        }
      })();
      expect(isCodedError(error, 'AUTH_RATE_LIMITED')).toBe(true);
      expect(
        (error as { details: { retryAfterSeconds: number } }).details.retryAfterSeconds,
      ).toBeGreaterThan(0);
      expect(() => limiter.assertNotBlocked('198.51.100.2')).not.toThrow();
      expect(await failures(limiter, '198.51.100.2', 1)).toEqual(['counted']);
    } finally {
      await limiter.onModuleDestroy();
    }
  });

  it('should count into one total across replicas through Redis', async () => {
    const prefix = uniquePrefix('auth');
    const store = loadConfig({ REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix }).store;
    const a = new FailedAuthLimiter(auth, store);
    const b = new FailedAuthLimiter(auth, store);
    try {
      expect(await failures(a, '203.0.113.9', 2)).toEqual(['counted', 'counted']);
      expect(await failures(b, '203.0.113.9', 2)).toEqual(['counted', 'AUTH_RATE_LIMITED']);
      // A learns of the block at that address's next failure there.
      expect(() => a.assertNotBlocked('203.0.113.9')).not.toThrow();
      expect(await failures(a, '203.0.113.9', 1)).toEqual(['AUTH_RATE_LIMITED']);
      expect(() => a.assertNotBlocked('203.0.113.9')).toThrow();
    } finally {
      await Promise.all([a.onModuleDestroy(), b.onModuleDestroy()]);
      await deleteKeysWithPrefix(`{${prefix}`);
    }
  });

  it('should keep answering (uncounted) when Redis cannot be reached', async () => {
    const store = loadConfig({ REDIS_URL: 'redis://127.0.0.1:1/0' }).store;
    const limiter = new FailedAuthLimiter(auth, store);
    try {
      expect(await failures(limiter, '192.0.2.1', 5)).toEqual(Array(5).fill('counted'));
    } finally {
      await limiter.onModuleDestroy();
      // ioredis keeps the timers of commands it gave up on (≤ 2 s) past the disconnect.
      await sleep(2_100);
    }
  });
});
