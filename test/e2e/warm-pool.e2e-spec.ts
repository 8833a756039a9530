import { existsSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { LABEL_INSTANCE, LABEL_POOL } from '@app/deployment';
import { WarmPool } from '@app/sandbox';
import { TestApp, appFromEnv, createTestApp, eventually } from '../support/app';
import { DEMO_IMAGE, ensureDemoImage, testDocker } from '../support/docker';

type Json = Record<string, any>;

const POOL_SIZE = 2;

describe('warm pool (real Docker, PostgreSQL, Redis)', () => {
  let t: TestApp;
  let http: ReturnType<typeof request>;
  const docker = testDocker();

  beforeAll(async () => {
    await ensureDemoImage();
    t = await createTestApp('postgres+redis', {
      WARM_POOL: `${DEMO_IMAGE}:${POOL_SIZE}`,
      // The reconciler would judge any container without a record at once: pool members must
      // survive it anyway.
      ORPHAN_GRACE_SECONDS: '0',
    });
    http = request(t.app.getHttpServer());
    await poolFull(t.app);
  });

  afterAll(async () => {
    await t?.close();
  });

  /** Containers made for a pool by this suite's instance, claimed or idle. */
  async function poolContainers(): Promise<{ id: string; sandboxId: string; running: boolean }[]> {
    const listed = await docker.listContainers({
      all: true,
      filters: { label: [`${LABEL_INSTANCE}=${t.config.docker.instanceId}`, LABEL_POOL] },
    });
    return listed.map((c) => ({
      id: c.Id,
      sandboxId: c.Labels['io.sandboxd.sandbox-id'],
      running: c.State === 'running',
    }));
  }

  async function poolFull(app: NestExpressApplication): Promise<void> {
    const pool = app.get(WarmPool);
    await eventually(async () => {
      await pool.settled();
      const [status] = pool.status();
      if (status.lastError) throw new Error(status.lastError);
      if (status.idle === POOL_SIZE) return true;
      throw new Error(`pool not full: ${JSON.stringify(status)}`);
    }, 60_000);
  }

  async function idleIds(app: NestExpressApplication = t.app): Promise<string[]> {
    const ids: string[] = [];
    for (const c of await poolContainers()) {
      const res = await request(app.getHttpServer()).get(`/v1/sandboxes/${c.sandboxId}`);
      if (res.status === 404) ids.push(c.id);
    }
    return ids.sort();
  }

  async function exec(id: string, body: Json): Promise<Json> {
    return (await http.post(`/v1/sandboxes/${id}/exec`).send(body).expect(200)).body as Json;
  }

  it('keeps WARM_POOL members started and labelled, never shown as sandboxes', async () => {
    const members = await poolContainers();
    expect(members).toHaveLength(POOL_SIZE);
    expect(members.every((m) => m.running)).toBe(true);
    const list = await http.get('/v1/sandboxes?includeDeleted=true').expect(200);
    expect(list.body.items).toEqual([]);
    for (const m of members) await http.get(`/v1/sandboxes/${m.sandboxId}`).expect(404);
    // Made with the same default limits as a cold create of the image.
    const inspected = await docker.getContainer(members[0].id).inspect();
    expect(inspected.HostConfig.NanoCpus).toBe(1e9);
    expect(inspected.HostConfig.Memory).toBe(1024 ** 3);
    expect(inspected.HostConfig.PidsLimit).toBe(1024);
    expect(inspected.HostConfig.Init).toBe(true);

    const health = await http.get('/health').expect(200);
    expect(health.body.warmPool).toEqual([
      { image: DEMO_IMAGE, size: POOL_SIZE, idle: POOL_SIZE, filling: false, lastError: null },
    ]);
    const reconcile = await http.post('/v1/admin/reconcile').expect(200);
    expect(JSON.stringify(reconcile.body)).not.toContain('orphan-container');
    expect(await poolContainers()).toHaveLength(POOL_SIZE);
  });

  it('hands a matching create a member, and refills in the background', async () => {
    const before = await idleIds();
    const res = await http
      .post('/v1/sandboxes?wait=true')
      .send({ image: DEMO_IMAGE, env: { GREETING: 'hello' }, labels: { suite: 'pool' } })
      .expect(200);
    expect(res.body).toMatchObject({ state: 'running', operation: null, fromPool: true });
    expect(before).toContain(res.body.containerId);
    expect(res.body.envKeys).toEqual(['GREETING']);

    await poolFull(t.app);
    const after = await idleIds();
    expect(after).toHaveLength(POOL_SIZE);
    expect(after).not.toContain(res.body.containerId);
    expect(await poolContainers()).toHaveLength(POOL_SIZE + 1);
    const metrics = await http.get('/metrics').expect(200);
    expect(metrics.text).toMatch(
      /sandboxd_warm_pool_takes_total\{image="sandboxd\/demo:latest",result="hit"\} [1-9]/,
    );
    await http.delete(`/v1/sandboxes/${res.body.id}?force=true`).expect(204);
  });

  it('makes a pooled sandbox behave like a cold one: exec with its env, files, stop, restart, delete', async () => {
    const created = await http
      .post('/v1/sandboxes?wait=true')
      .send({ image: 'sandboxd/demo', env: { GREETING: 'hello', SHARED: 'sandbox' } })
      .expect(200);
    const sandbox = created.body as Json;
    expect(sandbox.fromPool).toBe(true);
    const id = sandbox.id as string;

    const env = await exec(id, { command: 'echo "$GREETING $SHARED"' });
    expect(env).toMatchObject({ exitCode: 0, stdout: 'hello sandbox\n' });
    // The command's own env wins, as it would over a container's env.
    const own = await exec(id, { command: 'echo "$GREETING $SHARED"', env: { SHARED: 'mine' } });
    expect(own.stdout).toBe('hello mine\n');

    await http
      .put(`/v1/sandboxes/${id}/files?path=/tmp/kept.txt`)
      .set('Content-Type', 'application/octet-stream')
      .send(Buffer.from('kept across restart'))
      .expect(200);

    const stopped = await http.post(`/v1/sandboxes/${id}/stop`).expect(200);
    expect(stopped.body).toMatchObject({ state: 'stopped', fromPool: true });
    expect((await docker.getContainer(sandbox.containerId).inspect()).State.Running).toBe(false);

    const restarted = await http.post(`/v1/sandboxes/${id}/restart`).expect(200);
    expect(restarted.body).toMatchObject({ state: 'running', containerId: sandbox.containerId });
    const file = await http
      .get(`/v1/sandboxes/${id}/files?path=/tmp/kept.txt`)
      .buffer(true)
      .parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => done(null, Buffer.concat(chunks)));
      })
      .expect(200);
    expect((file.body as Buffer).toString()).toBe('kept across restart');
    expect((await exec(id, { command: 'echo $GREETING' })).stdout).toBe('hello\n');

    const logDir = join(t.config.logDir.root, id);
    expect(existsSync(logDir)).toBe(true);
    await http.delete(`/v1/sandboxes/${id}?force=true`).expect(204);
    expect((await http.get(`/v1/sandboxes/${id}`).expect(200)).body.state).toBe('deleted');
    await expect(docker.getContainer(sandbox.containerId).inspect()).rejects.toMatchObject({
      statusCode: 404,
    });
    expect(existsSync(logDir)).toBe(false);
  });

  it('creates cold what the pool cannot serve, leaving the pool alone', async () => {
    await poolFull(t.app);
    const idle = await idleIds();
    for (const body of [
      { image: DEMO_IMAGE, memory: '64m' },
      { image: DEMO_IMAGE, ports: [8080] },
      { image: DEMO_IMAGE, command: ['sleep', '300'] },
    ]) {
      const res = await http.post('/v1/sandboxes?wait=true').send(body).expect(200);
      expect(res.body).toMatchObject({ state: 'running', fromPool: false });
      expect(idle).not.toContain(res.body.containerId);
      await http.delete(`/v1/sandboxes/${res.body.id}?force=true`).expect(204);
    }
    expect(await idleIds()).toEqual(idle);
  });

  it('gives a member back when the create is refused', async () => {
    await poolFull(t.app);
    const name = `pooled-${Date.now()}`;
    const first = await http
      .post('/v1/sandboxes?wait=true')
      .send({ image: DEMO_IMAGE, name })
      .expect(200);
    expect(first.body.fromPool).toBe(true);
    await poolFull(t.app);
    const idle = await idleIds();

    const refused = await http.post('/v1/sandboxes').send({ image: DEMO_IMAGE, name }).expect(409);
    expect(refused.body.code).toBe('NAME_CONFLICT');
    // The same members are still there: none lost, none made in its place.
    await poolFull(t.app);
    expect(await idleIds()).toEqual(idle);
    await http.delete(`/v1/sandboxes/${first.body.id}?force=true`).expect(204);
  });

  it('serves concurrent creates beyond its size, the rest cold', async () => {
    await poolFull(t.app);
    const results = await Promise.all(
      [1, 2, 3, 4].map(() =>
        http.post('/v1/sandboxes?wait=true').send({ image: DEMO_IMAGE }).expect(200),
      ),
    );
    const pooled = results.filter((r) => r.body.fromPool === true).length;
    expect(pooled).toBeGreaterThanOrEqual(1);
    expect(pooled).toBeLessThanOrEqual(POOL_SIZE + 1); // one refill may land in between
    expect(results.every((r) => r.body.state === 'running')).toBe(true);
    for (const r of results) await http.delete(`/v1/sandboxes/${r.body.id}?force=true`).expect(204);
  });

  it('replaces a member whose container died', async () => {
    await poolFull(t.app);
    const [victim] = await idleIds();
    await docker.getContainer(victim).kill();
    await t.app.get(WarmPool).maintain();
    await poolFull(t.app);
    const idle = await idleIds();
    expect(idle).not.toContain(victim);
    await expect(docker.getContainer(victim).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('is adopted by the next run when kept on shutdown, and removed on shutdown by default', async () => {
    await poolFull(t.app);
    const idle = await idleIds();
    const kept = { ...t.env, WARM_POOL_REMOVE_ON_SHUTDOWN: 'false' };

    const first = await appFromEnv(kept);
    await poolFull(first.app);
    await first.app.close();
    // The suite's app still holds its members too; the second run sees them as its own.
    const second = await appFromEnv(t.env);
    try {
      await poolFull(second.app);
      expect(await idleIds(second.app)).toEqual(idle);
    } finally {
      await second.app.close();
    }
    // Removed on shutdown by default: the suite's app's own list is now stale, so check Docker.
    expect(await poolContainers()).toEqual([]);
  });
});
