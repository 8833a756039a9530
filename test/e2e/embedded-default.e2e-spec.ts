import request from 'supertest';
import { TestApp, createTestApp } from '../support/app';
import { DEMO_IMAGE, ensureDemoImage, execIn, testDocker } from '../support/docker';

/** The same lifecycle on the embedded default: SQLite file + in-process cache, no services. */
describe('embedded default (SQLite + in-process cache)', () => {
  let t: TestApp;
  let http: ReturnType<typeof request>;

  beforeAll(async () => {
    await ensureDemoImage();
    t = await createTestApp('embedded');
    http = request(t.app.getHttpServer());
  });

  afterAll(async () => {
    await t?.close();
  });

  it('should run the whole lifecycle and report itself healthy', async () => {
    expect(t.config.store.databaseUrl).toBeUndefined();
    expect(t.config.store.redisUrl).toBeUndefined();
    const health = await http.get('/health').expect(200);
    expect(health.body.ready).toBe(true);

    const created = await http
      .post('/v1/sandboxes?wait=true')
      .send({ image: DEMO_IMAGE, name: 'embedded-one', ports: [80], labels: { mode: 'embedded' } })
      .expect(200);
    expect(created.body.state).toBe('running');
    await execIn(created.body.containerId, ['sh', '-c', 'echo here > /tmp/f']);

    await http.post('/v1/sandboxes/embedded-one/stop').expect(200);
    const restarted = await http.post('/v1/sandboxes/embedded-one/restart').expect(200);
    expect(restarted.body).toMatchObject({
      state: 'running',
      containerId: created.body.containerId,
      ports: created.body.ports,
    });
    expect((await execIn(created.body.containerId, ['cat', '/tmp/f'])).output.trim()).toBe('here');

    const listed = await http.get('/v1/sandboxes?label=mode=embedded').expect(200);
    expect(listed.body.items.map((s: { id: string }) => s.id)).toEqual([created.body.id]);

    await http.delete('/v1/sandboxes/embedded-one?force=true').expect(204);
    await expect(
      testDocker().getContainer(created.body.containerId).inspect(),
    ).rejects.toMatchObject({ statusCode: 404 });
    const gone = await http.get(`/v1/sandboxes/${created.body.id}`).expect(200);
    expect(gone.body.state).toBe('deleted');
    // The name is free again once its sandbox is deleted.
    await http.get('/v1/sandboxes/embedded-one').expect(404);
  });

  it('should answer a bad request the same way as on PostgreSQL', async () => {
    const res = await http.post('/v1/sandboxes').send({ image: DEMO_IMAGE, cpus: 0 }).expect(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
  });
});
