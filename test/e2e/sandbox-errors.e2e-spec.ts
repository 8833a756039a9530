import request from 'supertest';
import { TestApp, createTestApp } from '../support/app';
import { DEMO_IMAGE, ensureDemoImage, testDocker } from '../support/docker';

/**
 * Every client mistake gets a 4xx in the one error shape, naming the problem, and creates nothing.
 */
describe('bad input answers (real Docker, PostgreSQL, Redis)', () => {
  let t: TestApp;
  let http: ReturnType<typeof request>;

  beforeAll(async () => {
    await ensureDemoImage();
    t = await createTestApp('postgres+redis');
    http = request(t.app.getHttpServer());
  });

  afterAll(async () => {
    await t?.close();
  });

  afterEach(async () => {
    // Nothing a refused request asked for may exist.
    const made = await testDocker().listContainers({
      all: true,
      filters: { label: [`io.sandboxd.instance=${t.config.docker.instanceId}`] },
    });
    expect(made).toHaveLength(0);
  });

  const badBodies: [string, unknown, string][] = [
    ['missing image', {}, 'image'],
    ['empty image', { image: '' }, 'image'],
    ['image with spaces', { image: 'not an image' }, 'image'],
    ['image not a string', { image: 42 }, 'image'],
    ['cpus too small', { image: DEMO_IMAGE, cpus: 0.01 }, 'cpus'],
    ['cpus too large', { image: DEMO_IMAGE, cpus: 65 }, 'cpus'],
    ['cpus as string', { image: DEMO_IMAGE, cpus: '2' }, 'cpus'],
    ['memory nonsense', { image: DEMO_IMAGE, memory: 'lots' }, 'memory'],
    ['memory below 6m', { image: DEMO_IMAGE, memory: '1m' }, 'memory'],
    ['env value not a string', { image: DEMO_IMAGE, env: { A: 1 } }, 'env'],
    ['env bad key', { image: DEMO_IMAGE, env: { 'A-B': 'x' } }, 'env'],
    ['env as array', { image: DEMO_IMAGE, env: ['A=1'] }, 'env'],
    [
      'too many labels',
      {
        image: DEMO_IMAGE,
        labels: Object.fromEntries([...Array(65)].map((_, i) => [`k${i}`, 'v'])),
      },
      'labels',
    ],
    ['reserved label prefix', { image: DEMO_IMAGE, labels: { 'io.sandboxd.x': 'y' } }, 'labels'],
    ['port zero', { image: DEMO_IMAGE, ports: [0] }, 'ports'],
    ['port too high', { image: DEMO_IMAGE, ports: [70000] }, 'ports'],
    ['port not integer', { image: DEMO_IMAGE, ports: [80.5] }, 'ports'],
    ['negative idle timeout', { image: DEMO_IMAGE, idleTimeoutSeconds: -5 }, 'idleTimeoutSeconds'],
    ['autoDelete below -1', { image: DEMO_IMAGE, autoDeleteSeconds: -2 }, 'autoDeleteSeconds'],
    ['empty command', { image: DEMO_IMAGE, command: [] }, 'command'],
    ['command not strings', { image: DEMO_IMAGE, command: ['sleep', 5] }, 'command'],
    ['entrypoint a string', { image: DEMO_IMAGE, entrypoint: '/bin/sh' }, 'entrypoint'],
    ['name with slash', { image: DEMO_IMAGE, name: 'a/b' }, 'name'],
    ['name shaped like an id', { image: DEMO_IMAGE, name: '0000000000000000000000000' }, 'name'],
    ['unknown field', { image: DEMO_IMAGE, privileged: true }, 'privileged'],
  ];

  it.each(badBodies)('should answer 400 naming the field for %s', async (_case, body, field) => {
    const res = await http
      .post('/v1/sandboxes')
      .send(body as object)
      .expect(400);
    expect(res.body).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED' });
    expect(res.body.message).toContain(field);
    expect(Object.keys(res.body.details.fields)).toContain(field);
    expect(res.body.errorId).toBeUndefined();
  });

  it('should answer 400 for a malformed placement, and 422 NO_MATCHING_NODE for one on a single host', async () => {
    const bad: unknown[] = [
      'zone-a',
      { nodeLabels: 'gpu' },
      { nodeLabels: { 'no spaces': 'x' } },
      { nodeLabels: { gpu: 1 } },
      { zone: 'a' },
    ];
    for (const placement of bad) {
      const res = await http.post('/v1/sandboxes').send({ image: DEMO_IMAGE, placement });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED' });
      expect(res.body.message).toMatch(/placement|nodeLabels|zone/);
    }
    const single = await http
      .post('/v1/sandboxes')
      .send({ image: DEMO_IMAGE, placement: { nodeLabels: { gpu: 'true' } } })
      .expect(422);
    expect(single.body).toMatchObject({ code: 'NO_MATCHING_NODE' });
    expect(single.body.message).toContain('CLUSTER=swarm');
    // An empty constraint asks for nothing: the create goes ahead as on one host.
    const plain = await http
      .post('/v1/sandboxes?wait=true')
      .send({ image: DEMO_IMAGE, placement: { nodeLabels: {} } })
      .expect(200);
    expect(plain.body.node).toBeNull();
    await http.delete(`/v1/sandboxes/${plain.body.id}?force=true`).expect(204);
    expect((await http.get('/v1/admin/nodes').expect(200)).body).toEqual({
      cluster: 'off',
      nodes: [],
    });
  });

  it('should answer 400 MALFORMED_JSON for a broken body', async () => {
    const res = await http
      .post('/v1/sandboxes')
      .set('Content-Type', 'application/json')
      .send('{"image": "x",')
      .expect(400);
    expect(res.body.code).toBe('MALFORMED_JSON');
  });

  it('should answer 413 for a body over 1 MiB', async () => {
    const res = await http
      .post('/v1/sandboxes')
      .send({ image: DEMO_IMAGE, env: { BIG: 'x'.repeat(1024 * 1024 + 10) } })
      .expect(413);
    expect(res.body.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('should answer 400 for a non-JSON body', async () => {
    const res = await http
      .post('/v1/sandboxes')
      .set('Content-Type', 'text/plain')
      .send('image=x')
      .expect(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
  });

  it.each([
    ['/v1/sandboxes?limit=0', 'limit'],
    ['/v1/sandboxes?limit=501', 'limit'],
    ['/v1/sandboxes?limit=abc', 'limit'],
    ['/v1/sandboxes?state=sleeping', 'state'],
    ['/v1/sandboxes?label=novalue', 'label'],
    ['/v1/sandboxes?includeDeleted=yes', 'includeDeleted'],
    ['/v1/sandboxes?cursor=%%%', 'cursor'],
    ['/v1/sandboxes?cursor=YSBi', 'cursor'],
    ['/v1/sandboxes?colour=red', 'colour'],
  ])('should answer 400 for GET %s naming %s', async (url, field) => {
    const res = await http.get(url).expect(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.message).toContain(field);
  });

  it('should answer 400 for bad query flags on commands', async () => {
    expect(
      (await http.post('/v1/sandboxes?wait=maybe').send({ image: DEMO_IMAGE }).expect(400)).body
        .message,
    ).toContain('wait');
    expect((await http.delete('/v1/sandboxes/abc?force=1').expect(400)).body.message).toContain(
      'force',
    );
  });

  it('should answer 400 for a malformed Idempotency-Key', async () => {
    const res = await http
      .post('/v1/sandboxes')
      .set('Idempotency-Key', 'x'.repeat(300))
      .send({ image: DEMO_IMAGE })
      .expect(400);
    expect(res.body.message).toContain('Idempotency-Key');
  });

  it.each([
    ['get', 'get', '/v1/sandboxes/nope-does-not-exist'],
    ['stop', 'post', '/v1/sandboxes/nope-does-not-exist/stop'],
    ['restart', 'post', '/v1/sandboxes/nope-does-not-exist/restart'],
    ['delete', 'delete', '/v1/sandboxes/nope-does-not-exist'],
  ] as const)(
    'should answer 404 SANDBOX_NOT_FOUND for %s of an unknown id',
    async (_c, verb, url) => {
      const res = await http[verb](url).expect(404);
      expect(res.body).toMatchObject({ statusCode: 404, code: 'SANDBOX_NOT_FOUND' });
    },
  );

  it('should answer 400 for an id with characters no sandbox id has', async () => {
    const res = await http.get('/v1/sandboxes/%20bad%20').expect(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
  });

  it('should answer 404 ROUTE_NOT_FOUND for unknown routes', async () => {
    const res = await http.get('/v1/nothing-here').expect(404);
    expect(res.body.code).toBe('ROUTE_NOT_FOUND');
  });
});
