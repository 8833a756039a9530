import request from 'supertest';
import { TestApp, createTestApp, eventually } from '../support/app';
import { DEMO_IMAGE, ensureDemoImage, testDocker } from '../support/docker';
import { createRunning } from '../support/sandboxes';

type Json = Record<string, any>;

const FAST = {
  SCHEDULER_INTERVAL_SECONDS: '1',
  RECONCILE_INTERVAL_SECONDS: '2',
  ORPHAN_GRACE_SECONDS: '1',
  STOP_TIMEOUT_SECONDS: '1',
};

describe('scheduler: idle timeouts, auto-delete, reconciler (real Docker, PostgreSQL, Redis)', () => {
  let t: TestApp;
  let http: ReturnType<typeof request>;
  const docker = testDocker();

  beforeAll(async () => {
    await ensureDemoImage();
    t = await createTestApp('postgres+redis', FAST);
    http = request(t.app.getHttpServer());
  });

  afterAll(async () => {
    await t?.close();
  });

  const view = async (id: string): Promise<Json> =>
    (await http.get(`/v1/sandboxes/${id}`).expect(200)).body as Json;

  const until = (id: string, ok: (s: Json) => boolean, ms = 15_000) =>
    eventually(async () => {
      const s = await view(id);
      return ok(s) ? s : undefined;
    }, ms);

  it('should stop an idle sandbox on time with reason idle-timeout', async () => {
    const created = await createRunning(http, { idleTimeoutSeconds: 2 });
    expect(Date.parse(created.autoStopAt) - Date.parse(created.startedAt)).toBeGreaterThan(1500);
    const stopped = await until(created.id, (s) => s.state === 'stopped');
    const stoppedAfterMs = Date.parse(stopped.stoppedAt) - Date.parse(created.startedAt);
    expect(stoppedAfterMs).toBeGreaterThanOrEqual(2000);
    expect(stoppedAfterMs).toBeLessThan(2000 + 1000 + 2500);
    expect(stopped.stateHistory.at(-1)).toMatchObject({
      from: 'running',
      to: 'stopped',
      reason: 'idle-timeout',
    });
    expect(stopped.autoStopAt).toBeNull();
    expect((await docker.getContainer(created.containerId).inspect()).State.Running).toBe(false);
  });

  it('should not stop a sandbox that is kept alive, and stop it once that ends', async () => {
    const created = await createRunning(http, { idleTimeoutSeconds: 2 });
    const keptUntil = Date.now() + 4500;
    while (Date.now() < keptUntil) {
      const res = await http.post(`/v1/sandboxes/${created.id}/keepalive`).expect(200);
      expect(res.body.state).toBe('running');
      expect(Date.parse(res.body.autoStopAt)).toBeGreaterThan(Date.now() + 1000);
      await new Promise((resolve) => setTimeout(resolve, 700));
    }
    expect((await view(created.id)).state).toBe('running');
    await until(created.id, (s) => s.state === 'stopped');
  });

  it('should stop at the max lifetime whatever the activity', async () => {
    const created = await createRunning(http, { idleTimeoutSeconds: 0, maxLifetimeSeconds: 2 });
    const stopped = await until(created.id, (s) => s.state === 'stopped');
    expect(stopped.stateHistory.at(-1).reason).toBe('max-lifetime');
  });

  it('should refuse keepalive on a stopped sandbox', async () => {
    const created = await createRunning(http, {});
    await http.post(`/v1/sandboxes/${created.id}/stop`).expect(200);
    const res = await http.post(`/v1/sandboxes/${created.id}/keepalive`).expect(409);
    expect(res.body.code).toBe('SANDBOX_NOT_RUNNING');
  });

  it('should delete a stopped sandbox after its autoDeleteSeconds, and restart clears it', async () => {
    const kept = await createRunning(http, { autoDeleteSeconds: 2 });
    const stoppedKept = (await http.post(`/v1/sandboxes/${kept.id}/stop`).expect(200)).body;
    expect(Date.parse(stoppedKept.autoDeleteAt) - Date.parse(stoppedKept.stoppedAt)).toBe(2000);
    const restarted = (await http.post(`/v1/sandboxes/${kept.id}/restart`).expect(200)).body;
    expect(restarted.autoDeleteAt).toBeNull();

    const doomed = await createRunning(http, { autoDeleteSeconds: 2 });
    await http.post(`/v1/sandboxes/${doomed.id}/stop`).expect(200);
    const deleted = await until(doomed.id, (s) => s.state === 'deleted');
    expect(deleted.stateHistory.at(-1)).toMatchObject({ to: 'deleted', reason: 'auto-delete' });
    await expect(docker.getContainer(doomed.containerId).inspect()).rejects.toMatchObject({
      statusCode: 404,
    });
    expect((await view(kept.id)).state).toBe('running');
  });

  it('should keep a protected sandbox until protection is unset', async () => {
    const created = await createRunning(http, { autoDeleteSeconds: 1, protected: true });
    await http.post(`/v1/sandboxes/${created.id}/stop`).expect(200);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect((await view(created.id)).state).toBe('stopped');
    const refused = await http.delete(`/v1/sandboxes/${created.id}?force=true`).expect(409);
    expect(refused.body.code).toBe('SANDBOX_PROTECTED');
    const patched = await http
      .patch(`/v1/sandboxes/${created.id}`)
      .send({ protected: false })
      .expect(200);
    expect(patched.body.protected).toBe(false);
    await until(created.id, (s) => s.state === 'deleted');
  });

  it('should reject bad PATCH bodies', async () => {
    const created = await createRunning(http, {});
    for (const body of [{}, { protected: 'yes' }, { protected: true, image: 'x' }]) {
      const res = await http.patch(`/v1/sandboxes/${created.id}`).send(body).expect(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    }
    await http.delete(`/v1/sandboxes/${created.id}?force=true`).expect(204);
    const res = await http
      .patch(`/v1/sandboxes/${created.id}`)
      .send({ protected: true })
      .expect(409);
    expect(res.body.code).toBe('INVALID_TRANSITION');
  });

  it('should delete an ephemeral sandbox (autoDeleteSeconds 0) as soon as it stops', async () => {
    const created = await createRunning(http, { autoDeleteSeconds: 0 });
    const res = await http.post(`/v1/sandboxes/${created.id}/stop`).expect(200);
    expect(res.body.state).toBe('deleted');
    expect(res.body.stateHistory.map((h: Json) => `${h.from}>${h.to}`)).toEqual([
      'pending>running',
      'running>stopped',
      'stopped>deleted',
    ]);
    await expect(docker.getContainer(created.containerId).inspect()).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it('should reflect docker kill outside the service within the event latency', async () => {
    const created = await createRunning(http, {});
    const killedAt = Date.now();
    await docker.getContainer(created.containerId).kill();
    const stopped = await until(created.id, (s) => s.state === 'stopped', 5000);
    expect(Date.now() - killedAt).toBeLessThan(3000);
    expect(stopped.failureReason).toContain('137');
    expect(stopped.stateHistory.at(-1)).toMatchObject({ event: 'exited' });
    // The container is still there (stopped), so the sandbox can be restarted.
    const restarted = await http.post(`/v1/sandboxes/${created.id}/restart`).expect(200);
    expect(restarted.body.state).toBe('running');
  });

  it('should reflect docker rm -f outside the service', async () => {
    const created = await createRunning(http, {});
    await docker.getContainer(created.containerId).remove({ force: true });
    const stopped = await until(created.id, (s) => s.state === 'stopped', 5000);
    expect(stopped.failureReason).toMatch(/removed/);
    const restart = await http.post(`/v1/sandboxes/${created.id}/restart`).expect(409);
    expect(restart.body.code).toBe('CONTAINER_MISSING');
    await http.delete(`/v1/sandboxes/${created.id}`).expect(204);
  });

  it('should remove a container carrying our label without a record, after the grace period', async () => {
    // Any sandbox of this instance makes the instance "known" to the reconciler.
    await createRunning(http, {});
    const orphan = await docker.createContainer({
      Image: DEMO_IMAGE,
      Entrypoint: ['sleep', 'infinity'],
      Labels: {
        'io.sandboxd.managed': 'true',
        'io.sandboxd.instance': t.config.docker.instanceId,
        'io.sandboxd.sandbox-id': 'no-such-sandbox',
      },
    });
    await orphan.start();
    const report = await eventually(async () => {
      const res = await http.get('/v1/admin/reconcile').expect(200);
      return res.body.drift.some((d: Json) => d.containerId === orphan.id) ? res.body : undefined;
    });
    expect(report.drift.find((d: Json) => d.containerId === orphan.id).kind).toBe(
      'orphan-container',
    );
    await eventually(async () => {
      try {
        await orphan.inspect();
        return undefined;
      } catch (error) {
        return (error as { statusCode?: number }).statusCode === 404 ? true : undefined;
      }
    }, 10_000);
  });

  it('should report drift without changing anything, and repair it on POST', async () => {
    const created = await createRunning(http, {});
    await docker.getContainer(created.containerId).stop({ t: 0 });
    // Before the event lands or after: GET never changes anything.
    const before = await http.get('/v1/admin/reconcile').expect(200);
    expect(Array.isArray(before.body.drift)).toBe(true);
    const run = await http.post('/v1/admin/reconcile').expect(200);
    expect(Array.isArray(run.body.actions)).toBe(true);
    await until(created.id, (s) => s.state === 'stopped', 5000);
    const metrics = await http.get('/metrics').expect(200);
    expect(metrics.text).toMatch(/sandboxd_auto_stopped_total\{reason="idle-timeout"\} [1-9]/);
    expect(metrics.text).toMatch(/sandboxd_auto_deleted_total [1-9]/);
    expect(metrics.text).toMatch(/sandboxd_orphans_removed_total [1-9]/);
    expect(metrics.text).toContain('sandboxd_scan_duration_seconds');
  });
});

describe('reconciler without Docker events (interval only)', () => {
  let t: TestApp;
  let http: ReturnType<typeof request>;

  beforeAll(async () => {
    await ensureDemoImage();
    t = await createTestApp('postgres+redis', { ...FAST, DOCKER_EVENTS: 'false' });
    http = request(t.app.getHttpServer());
  });

  afterAll(async () => {
    await t?.close();
  });

  it('should notice a killed container within one reconcile interval', async () => {
    const created = (
      await http.post('/v1/sandboxes?wait=true').send({ image: DEMO_IMAGE }).expect(200)
    ).body;
    await testDocker().getContainer(created.containerId).kill();
    const started = Date.now();
    const stopped = await eventually(async () => {
      const s = (await http.get(`/v1/sandboxes/${created.id}`).expect(200)).body;
      return s.state === 'stopped' ? s : undefined;
    }, 10_000);
    expect(Date.now() - started).toBeLessThan(2000 + 2500);
    expect(stopped.failureReason).toContain('137');
  });
});
