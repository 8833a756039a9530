import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import Redis from 'ioredis';
import { Client } from 'pg';
import request from 'supertest';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { KeyValueStore, aliveKey } from '@app/meta-store';
import { WarmPool } from '@app/sandbox';
import { Backend, TEST_REDIS_URL, appFromEnv, eventually, testEnv } from '../../support/app';
import { DEMO_IMAGE, ensureDemoImage } from '../../support/docker';

type Json = Record<string, any>;

/** A value no fixture, id or label could contain by chance. */
const secretValue = (): string => `s3cr3t-${randomBytes(12).toString('hex')}`;

/** The spec and info columns of a sandbox's row, as the database stores them (text). */
async function rawRow(env: Record<string, string>, id: string): Promise<string> {
  if (env.DATABASE_URL !== undefined) {
    const client = new Client({ connectionString: env.DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ spec: string; info: string }>(
        'SELECT spec, info FROM sandbox_table WHERE id = $1',
        [id],
      );
      expect(rows).toHaveLength(1);
      return `${rows[0].spec}\n${rows[0].info}`;
    } finally {
      await client.end();
    }
  }
  const db = new Database(env.SQLITE_PATH, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT spec, info FROM sandbox_table WHERE id = ?').get(id) as {
      spec: string;
      info: string;
    };
    return `${row.spec}\n${row.info}`;
  } finally {
    db.close();
  }
}

/** Every key and value under this suite's Redis prefix, whatever the key's type. */
async function redisDump(env: Record<string, string>): Promise<string> {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true });
  await redis.connect();
  try {
    const keys = await redis.keys(`${env.REDIS_KEY_PREFIX}*`);
    const parts: string[] = [];
    for (const key of keys) {
      const type = await redis.type(key);
      if (type === 'string') parts.push(key, (await redis.get(key)) ?? '');
      else if (type === 'zset') parts.push(key, ...(await redis.zrange(key, 0, -1)));
      else if (type === 'hash') parts.push(key, JSON.stringify(await redis.hgetall(key)));
      else if (type === 'set') parts.push(key, ...(await redis.smembers(key)));
      else if (type === 'list') parts.push(key, ...(await redis.lrange(key, 0, -1)));
      else parts.push(key, `<${type}>`);
    }
    return parts.join('\n');
  } finally {
    redis.disconnect();
  }
}

async function poolReady(app: NestExpressApplication): Promise<void> {
  const pool = app.get(WarmPool);
  await eventually(async () => {
    await pool.settled();
    const [status] = pool.status();
    if (status.lastError) throw new Error(status.lastError);
    if (status.idle >= 1) return true;
    throw new Error(`pool not ready: ${JSON.stringify(status)}`);
  }, 60_000);
}

/**
 * Env values at rest (issue 10, item 7): sealed in the database, never in the cache, gone from
 * the row once the sandbox is deleted; a value sealed under another key fails only its sandbox.
 */
describe.each<Backend>(['postgres+redis', 'embedded'])('secrets at rest (%s)', (backend) => {
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;
  let app: NestExpressApplication | null = null;
  let http: ReturnType<typeof request>;

  const start = async (overrides: Record<string, string> = {}) => {
    ({ app } = await appFromEnv({ ...env, ...overrides }));
    http = request(app.getHttpServer());
  };
  const stop = async () => {
    await app?.close();
    app = null;
  };
  const exec = async (id: string, command: string) =>
    (await http.post(`/v1/sandboxes/${id}/exec`).send({ command })).body as Json;

  beforeAll(async () => {
    await ensureDemoImage();
    ({ env, cleanup } = await testEnv(backend, { WARM_POOL: `${DEMO_IMAGE}:1` }));
    await start();
  });

  afterAll(async () => {
    await stop();
    await cleanup?.();
  });

  it('stores no env value in the database row or the cache, and drops it on delete', async () => {
    const cold = secretValue();
    const created = await http
      .post('/v1/sandboxes?wait=true')
      // memory keeps this create off the warm pool: its env goes into the container.
      .send({ image: DEMO_IMAGE, memory: '128m', env: { API_TOKEN: cold } })
      .expect(200);
    const id = created.body.id as string;
    expect(created.body).toMatchObject({ state: 'running', envKeys: ['API_TOKEN'] });
    expect(JSON.stringify(created.body)).not.toContain(cold);
    // Decrypted where it is needed: the container was created with it.
    expect(await exec(id, 'echo "$API_TOKEN"')).toMatchObject({ stdout: `${cold}\n` });

    const row = await rawRow(env, id);
    expect(row).toContain('API_TOKEN');
    expect(row).not.toContain(cold);
    expect(row).not.toContain(Buffer.from(cold).toString('base64'));
    if (backend === 'postgres+redis') {
      const cached = await redisDump(env);
      expect(cached).toContain(id);
      expect(cached).not.toContain(cold);
    } else {
      // The in-process cache: what it holds for a live sandbox is the view, names only.
      const cached = await app!.get(KeyValueStore).get(aliveKey(id));
      expect(cached).toContain('API_TOKEN');
      expect(cached).not.toContain(cold);
    }

    await http.delete(`/v1/sandboxes/${id}?force=true`).expect(204);
    const deletedRow = await rawRow(env, id);
    expect(deletedRow).not.toContain(cold);
    // Not even sealed: the row keeps no value at all once the sandbox is gone.
    expect(JSON.parse(deletedRow.split('\n')[0])).toMatchObject({ sealedEnv: {} });
    const view = await http.get(`/v1/sandboxes/${id}`).expect(200);
    expect(view.body).toMatchObject({ state: 'deleted', envKeys: ['API_TOKEN'] });
  });

  it('gives a warm-pool sandbox its env on each exec, and keeps it sealed at rest', async () => {
    await poolReady(app!);
    const value = secretValue();
    const created = await http
      .post('/v1/sandboxes?wait=true')
      .send({ image: DEMO_IMAGE, env: { POOL_TOKEN: value } })
      .expect(200);
    expect(created.body.fromPool).toBe(true);
    expect((await exec(created.body.id, 'echo "$POOL_TOKEN"')).stdout).toBe(`${value}\n`);
    expect(await rawRow(env, created.body.id)).not.toContain(value);
    await http.delete(`/v1/sandboxes/${created.body.id}?force=true`).expect(204);
  });

  it('answers a sandbox sealed under another key with a coded error, and serves the others', async () => {
    await poolReady(app!);
    const value = secretValue();
    const pooled = await http
      .post('/v1/sandboxes?wait=true')
      .send({ image: DEMO_IMAGE, env: { OLD_TOKEN: value } })
      .expect(200);
    expect(pooled.body.fromPool).toBe(true);
    await stop();

    // The same database under another key, as after a mistaken SECRETS_KEY change.
    await start({ SECRETS_KEY: randomBytes(32).toString('base64'), WARM_POOL: '' });
    try {
      const failed = await exec(pooled.body.id, 'echo "$OLD_TOKEN"');
      expect(failed).toMatchObject({ code: 'SECRETS_UNREADABLE' });
      expect(JSON.stringify(failed)).not.toContain(value);

      const fresh = secretValue();
      const other = await http
        .post('/v1/sandboxes?wait=true')
        .send({ image: DEMO_IMAGE, env: { NEW_TOKEN: fresh } })
        .expect(200);
      expect((await exec(other.body.id, 'echo "$NEW_TOKEN"')).stdout).toBe(`${fresh}\n`);
      await http.get('/v1/sandboxes').expect(200);
      await http.get(`/v1/sandboxes/${pooled.body.id}`).expect(200);
      // Deleting needs no env: the unreadable sandbox can still be removed.
      await http.delete(`/v1/sandboxes/${pooled.body.id}?force=true`).expect(204);
      await http.delete(`/v1/sandboxes/${other.body.id}?force=true`).expect(204);
    } finally {
      await stop();
      await start();
    }
  });

  if (backend === 'embedded') {
    it('generates its key into the data dir with mode 0600 and reuses it on the next start', async () => {
      const dir = dirname(env.SQLITE_PATH);
      const keyFile = join(dir, 'secrets.key');
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      for (const file of [env.SQLITE_PATH, `${env.SQLITE_PATH}-wal`, `${env.SQLITE_PATH}-shm`]) {
        expect({ file, mode: (statSync(file).mode & 0o777).toString(8) }).toEqual({
          file,
          mode: '600',
        });
      }
      const key = readFileSync(keyFile, 'utf8');
      await poolReady(app!);
      const value = secretValue();
      const created = await http
        .post('/v1/sandboxes?wait=true')
        .send({ image: DEMO_IMAGE, env: { KEPT: value } })
        .expect(200);
      expect(created.body.fromPool).toBe(true);
      await stop();
      await start();
      expect(readFileSync(keyFile, 'utf8')).toBe(key);
      // A pooled sandbox's env is opened from the record on every exec: under the reused key.
      expect((await exec(created.body.id, 'echo "$KEPT"')).stdout).toBe(`${value}\n`);
      await http.delete(`/v1/sandboxes/${created.body.id}?force=true`).expect(204);
    });
  }
});
