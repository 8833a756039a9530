import request from 'supertest';
import Redis from 'ioredis';
import { TEST_REDIS_URL, TestApp, createTestApp, eventually } from '../support/app';
import { DEMO_IMAGE, ensureDemoImage, execIn, testDocker } from '../support/docker';
import { createRunning } from '../support/sandboxes';

type Json = Record<string, any>;

describe('sandbox lifecycle over HTTP (real Docker, PostgreSQL, Redis)', () => {
  let t: TestApp;
  let http: ReturnType<typeof request>;
  const docker = testDocker();

  beforeAll(async () => {
    await ensureDemoImage();
    t = await createTestApp('postgres+redis');
    http = request(t.app.getHttpServer());
  });

  afterAll(async () => {
    await t?.close();
  });

  it('should create, stop, restart with the same container, ports and files, then delete', async () => {
    const created = await createRunning(http, {
      name: `life-${Date.now()}`,
      cpus: 0.5,
      memory: '64m',
      env: { SECRET_TOKEN: 'do-not-echo' },
      labels: { suite: 'lifecycle' },
      ports: [8080],
    });
    expect(created.operation).toBeNull();
    expect(created.envKeys).toEqual(['SECRET_TOKEN']);
    expect(JSON.stringify(created)).not.toContain('do-not-echo');
    expect(created.memory).toBe('64m');
    const hostPort = created.ports['8080'];
    expect(hostPort).toBeGreaterThanOrEqual(t.config.docker.portRange.from);
    expect(hostPort).toBeLessThanOrEqual(t.config.docker.portRange.to);

    // The container is really there, limited and labelled, and keeps running.
    const inspected = await docker.getContainer(created.containerId).inspect();
    expect(inspected.State.Running).toBe(true);
    expect(inspected.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(inspected.HostConfig.MemorySwap).toBe(64 * 1024 * 1024);
    expect(inspected.HostConfig.NanoCpus).toBe(500_000_000);
    expect(inspected.HostConfig.Privileged).toBe(false);
    expect(inspected.HostConfig.Init).toBe(true);
    expect(inspected.HostConfig.SecurityOpt).toContain('no-new-privileges');
    expect(inspected.Config.Labels['io.sandboxd.sandbox-id']).toBe(created.id);
    expect(inspected.Config.Labels.suite).toBe('lifecycle');
    const binds = JSON.stringify(inspected.HostConfig.Binds ?? []);
    expect(binds).not.toContain('docker.sock');

    await execIn(created.containerId, ['sh', '-c', 'echo kept > /root-file']);

    const byName = await http.get(`/v1/sandboxes/${created.name}`).expect(200);
    expect(byName.body.id).toBe(created.id);

    const stopped = await http.post(`/v1/sandboxes/${created.id}/stop`).expect(200);
    expect(stopped.body.state).toBe('stopped');
    expect(stopped.body.stoppedAt).not.toBeNull();
    expect((await docker.getContainer(created.containerId).inspect()).State.Running).toBe(false);

    // Stopping again is a no-op.
    const again = await http.post(`/v1/sandboxes/${created.id}/stop`).expect(200);
    expect(again.body.stateHistory).toHaveLength(stopped.body.stateHistory.length);

    const restarted = await http.post(`/v1/sandboxes/${created.id}/restart`).expect(200);
    expect(restarted.body.state).toBe('running');
    expect(restarted.body.containerId).toBe(created.containerId);
    expect(restarted.body.ports).toEqual(created.ports);
    const file = await execIn(created.containerId, ['cat', '/root-file']);
    expect(file.output.trim()).toBe('kept');
    expect(restarted.body.stateHistory.map((h: Json) => `${h.from}>${h.to}`)).toEqual([
      'pending>running',
      'running>stopped',
      'stopped>pending',
      'pending>running',
    ]);

    // Live sandboxes cannot be deleted without force.
    const refused = await http.delete(`/v1/sandboxes/${created.id}`).expect(409);
    expect(refused.body.code).toBe('INVALID_TRANSITION');
    await http.post(`/v1/sandboxes/${created.id}/stop`).expect(200);
    await http.delete(`/v1/sandboxes/${created.id}`).expect(204);
    await expect(docker.getContainer(created.containerId).inspect()).rejects.toMatchObject({
      statusCode: 404,
    });
    // Deleting again is 204 again; the record stays for audit.
    await http.delete(`/v1/sandboxes/${created.id}`).expect(204);
    const audit = await http.get(`/v1/sandboxes/${created.id}`).expect(200);
    expect(audit.body.state).toBe('deleted');
    expect(audit.body.deletedAt).not.toBeNull();
    // Commands on a deleted sandbox are conflicts, not errors.
    expect((await http.post(`/v1/sandboxes/${created.id}/stop`).expect(409)).body.code).toBe(
      'INVALID_TRANSITION',
    );
    expect((await http.post(`/v1/sandboxes/${created.id}/restart`).expect(409)).body.code).toBe(
      'INVALID_TRANSITION',
    );
  });

  it('should answer 202 pending without wait, then reach running', async () => {
    const res = await http.post('/v1/sandboxes').send({ image: DEMO_IMAGE }).expect(202);
    expect(res.body.state).toBe('pending');
    expect(res.body.operation).toBe('starting');
    const running = await eventually(async () => {
      const view = await http.get(`/v1/sandboxes/${res.body.id}`).expect(200);
      return view.body.state === 'running' ? (view.body as Json) : undefined;
    });
    expect(running.containerId).toBeTruthy();
    await http.delete(`/v1/sandboxes/${res.body.id}?force=true`).expect(204);
  });

  it('should force-delete a running sandbox (stop, then delete)', async () => {
    const created = await createRunning(http);
    await http.delete(`/v1/sandboxes/${created.id}?force=true`).expect(204);
    const view = await http.get(`/v1/sandboxes/${created.id}`).expect(200);
    expect(view.body.state).toBe('deleted');
    expect(view.body.stateHistory.map((h: Json) => `${h.from}>${h.to}`)).toEqual([
      'pending>running',
      'running>stopped',
      'stopped>deleted',
    ]);
    await expect(docker.getContainer(created.containerId).inspect()).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it('should end in stopped with a clear reason when the image cannot be pulled', async () => {
    const res = await http
      .post('/v1/sandboxes?wait=true')
      .send({ image: 'sandboxd-test/does-not-exist:1' })
      .expect(200);
    expect(res.body.state).toBe('stopped');
    expect(res.body.failureReason).toContain('sandboxd-test/does-not-exist:1');
    expect(res.body.containerId).toBeNull();
    const leftovers = await docker.listContainers({
      all: true,
      filters: { label: [`io.sandboxd.sandbox-id=${res.body.id}`] },
    });
    expect(leftovers).toHaveLength(0);
  });

  it('should replay an Idempotency-Key without creating a second container', async () => {
    const key = `key-${Date.now()}`;
    const body = { image: DEMO_IMAGE, labels: { idem: key } };
    const [a, b] = await Promise.all([
      http.post('/v1/sandboxes?wait=true').set('Idempotency-Key', key).send(body),
      http.post('/v1/sandboxes?wait=true').set('Idempotency-Key', key).send(body),
    ]);
    expect([a.status, b.status].every((s) => s === 200 || s === 202)).toBe(true);
    expect(a.body.id).toBe(b.body.id);
    const replay = await http
      .post('/v1/sandboxes')
      .set('Idempotency-Key', key)
      .send({ labels: { idem: key }, image: DEMO_IMAGE })
      .expect(200);
    expect(replay.body.id).toBe(a.body.id);
    const containers = await docker.listContainers({
      all: true,
      filters: { label: [`idem=${key}`] },
    });
    expect(containers).toHaveLength(1);
    const conflict = await http
      .post('/v1/sandboxes')
      .set('Idempotency-Key', key)
      .send({ image: DEMO_IMAGE, labels: { idem: 'other' } })
      .expect(409);
    expect(conflict.body.code).toBe('IDEMPOTENCY_CONFLICT');
    await http.delete(`/v1/sandboxes/${a.body.id}?force=true`).expect(204);
  });

  it('should refuse a second live sandbox with the same name, and free the name on delete', async () => {
    const name = `dup-${Date.now()}`;
    const first = await createRunning(http, { name });
    const dup = await http.post('/v1/sandboxes').send({ image: DEMO_IMAGE, name }).expect(409);
    expect(dup.body).toMatchObject({ code: 'NAME_CONFLICT', details: { name } });
    await http.delete(`/v1/sandboxes/${first.id}?force=true`).expect(204);
    const reused = await createRunning(http, { name });
    expect(reused.id).not.toBe(first.id);
    await http.delete(`/v1/sandboxes/${reused.id}?force=true`).expect(204);
  });

  it('should list with state, label and image filters and cursor pagination', async () => {
    const tag = `list-${Date.now()}`;
    const made: Json[] = [];
    for (let i = 0; i < 5; i += 1)
      made.push(await createRunning(http, { labels: { tag, n: `${i}` } }));
    await http.post(`/v1/sandboxes/${made[0].id}/stop`).expect(200);
    await http.delete(`/v1/sandboxes/${made[1].id}?force=true`).expect(204);

    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const res: request.Response = await http
        .get('/v1/sandboxes')
        .query({ label: `tag=${tag}`, limit: 2, ...(cursor ? { cursor } : {}) })
        .expect(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      ids.push(...res.body.items.map((s: Json) => s.id as string));
      cursor = res.body.nextCursor as string | null;
    } while (cursor);
    // Deleted ones only when asked for.
    expect(ids.sort()).toEqual([made[0], made[2], made[3], made[4]].map((s) => s.id).sort());

    const running = await http
      .get(`/v1/sandboxes?label=tag=${tag}&state=running&image=${encodeURIComponent(DEMO_IMAGE)}`)
      .expect(200);
    expect(running.body.items).toHaveLength(3);
    const two = await http
      .get(`/v1/sandboxes?label=tag=${tag}&label=n=2&state=running&state=stopped`)
      .expect(200);
    expect(two.body.items.map((s: Json) => s.id)).toEqual([made[2].id]);
    const withDeleted = await http
      .get(`/v1/sandboxes?label=tag=${tag}&includeDeleted=true`)
      .expect(200);
    expect(withDeleted.body.items).toHaveLength(5);

    for (const s of made) await http.delete(`/v1/sandboxes/${s.id}?force=true`).expect(204);
  });

  it('should lose nothing when Redis is flushed in the middle of a lifecycle', async () => {
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const created = await createRunning(http, { labels: { flush: 'yes' } });
      await redis.flushdb();
      expect((await http.get(`/v1/sandboxes/${created.id}`).expect(200)).body.state).toBe(
        'running',
      );
      await http.post(`/v1/sandboxes/${created.id}/stop`).expect(200);
      await redis.flushdb();
      const restarted = await http.post(`/v1/sandboxes/${created.id}/restart`).expect(200);
      expect(restarted.body.containerId).toBe(created.containerId);
      await redis.flushdb();
      const view = await http.get(`/v1/sandboxes/${created.id}`).expect(200);
      expect(view.body).toMatchObject({ state: 'running', ports: created.ports });
      expect(view.body.stateHistory).toHaveLength(4);
      const listed = await http.get('/v1/sandboxes?label=flush=yes').expect(200);
      expect(listed.body.items.map((s: Json) => s.id)).toContain(created.id);
      await redis.flushdb();
      await http.delete(`/v1/sandboxes/${created.id}?force=true`).expect(204);
      expect((await http.get(`/v1/sandboxes/${created.id}`).expect(200)).body.state).toBe(
        'deleted',
      );
    } finally {
      redis.disconnect();
    }
  });

  it('should report health and metrics, and serve the OpenAPI document', async () => {
    const health = await http.get('/health').expect(200);
    expect(health.body).toMatchObject({
      status: 'ok',
      checks: { database: { ok: true }, cache: { ok: true }, docker: { ok: true } },
    });
    const metrics = await http.get('/metrics').expect(200);
    expect(metrics.text).toContain('sandboxd_sandboxes{state="running"}');
    expect(metrics.text).toContain('sandboxd_operations_total');
    const doc = await http.get('/docs-json').expect(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/v1/sandboxes', '/v1/sandboxes/{id}', '/v1/sandboxes/{id}/stop']),
    );
  });
});
