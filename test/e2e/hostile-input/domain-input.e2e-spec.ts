import request from 'supertest';
import { SandboxAutomation } from '@app/sandbox';
import { Backend, TestApp, createTestApp } from '../../support/app';
import { DEMO_IMAGE, ensureDemoImage, testDocker } from '../../support/docker';

type Json = Record<string, any>;

/**
 * Hostile input on the domain side of the API (issue 10, items 3, 4, 9 and 10): create bodies
 * whose limits would not be in force or whose labels could never be filtered on, command bodies
 * with unknown fields, 64 label filters, deletes of protected sandboxes and racing deletes. Each
 * runs against the real service on both backends.
 */
describe.each<Backend>(['postgres+redis', 'embedded'])('domain input on %s', (backend) => {
  let t: TestApp;
  let http: ReturnType<typeof request>;
  const made: string[] = [];

  beforeAll(async () => {
    await ensureDemoImage();
    t = await createTestApp(backend, { SCHEDULER_ENABLED: 'false' });
    http = request(t.app.getHttpServer());
  });

  afterAll(async () => {
    // Whatever a test left protected is unprotected and removed, so the sweep finds nothing live.
    for (const id of made) {
      await http.patch(`/v1/sandboxes/${id}`).send({ protected: false });
      await http.delete(`/v1/sandboxes/${id}?force=true`);
    }
    await t?.close();
  });

  /** Small limits, so the suite's sandboxes never hit the capacity check. */
  const SMALL = { image: DEMO_IMAGE, cpus: 0.1, memory: '32m' };

  async function create(body: Json): Promise<Json> {
    const res = await http.post('/v1/sandboxes?wait=true').send({ ...SMALL, ...body });
    expect(res.status).toBe(200);
    expect(res.body.state).toBe('running');
    made.push(res.body.id as string);
    return res.body as Json;
  }

  async function containersOfThisRun(): Promise<number> {
    const found = await testDocker().listContainers({
      all: true,
      filters: { label: [`io.sandboxd.instance=${t.config.docker.instanceId}`] },
    });
    return found.length;
  }

  describe('create bodies that would lie or could not be used are refused', () => {
    const refused: [string, Json, string][] = [
      ['pidsLimit 0 (Docker reads it as unlimited)', { pidsLimit: 0 }, 'pidsLimit'],
      ['memory with surrounding whitespace', { memory: ' 512m ' }, 'memory'],
      ['memory with a trailing newline', { memory: '512m\n' }, 'memory'],
      ['disk with surrounding whitespace', { disk: '\t10g' }, 'disk'],
      ['an env value holding NUL', { env: { A: 'x\u0000y' } }, 'env'],
      ['command [""]', { command: [''] }, 'command'],
      ['entrypoint [""]', { entrypoint: [''] }, 'entrypoint'],
      ['a command whose program is empty', { command: ['', 'x'] }, 'command'],
      ['a label value with a newline', { labels: { team: 'a\nb' } }, 'labels'],
      ['a label value holding NUL', { labels: { team: 'a\u0000b' } }, 'labels'],
      ['a label value with a lone surrogate', { labels: { team: 'a\ud800b' } }, 'labels'],
      [
        'a label value longer than the store keeps',
        { labels: { team: 'v'.repeat(513) } },
        'labels',
      ],
    ];

    it.each(refused)('should answer 400 naming the field for %s', async (_case, body, field) => {
      const before = await containersOfThisRun();
      const res = await http.post('/v1/sandboxes').send({ ...SMALL, ...body });
      // Before the fix these were accepted: remove what they made.
      if (res.status < 300) made.push(res.body.id as string);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED' });
      expect(Object.keys(res.body.details.fields)).toContain(field);
      expect(await containersOfThisRun()).toBe(before);
    });

    it('should refuse an env value holding NUL in an exec too', async () => {
      const s = await create({});
      const res = await http
        .post(`/v1/sandboxes/${s.id}/exec`)
        .send({ command: ['true'], env: { A: 'x\u0000y' } })
        .expect(400);
      expect(Object.keys(res.body.details.fields)).toContain('env');
    });

    it('should keep a label value of 512 characters filterable', async () => {
      const value = 'v'.repeat(512);
      const s = await create({ labels: { long: value } });
      const page = await http
        .get('/v1/sandboxes')
        .query({ label: `long=${value}` })
        .expect(200);
      expect(page.body.items.map((i: Json) => i.id)).toEqual([s.id]);
    });
  });

  describe('command routes refuse unknown body fields like every other route', () => {
    let s: Json;
    beforeAll(async () => {
      s = await create({});
    });

    it.each(['stop', 'restart', 'keepalive'])(
      'should answer 400 for POST /%s {force:true}',
      async (route) => {
        const res = await http
          .post(`/v1/sandboxes/${s.id}/${route}`)
          .send({ force: true })
          .expect(400);
        expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED' });
        expect(Object.keys(res.body.details.fields)).toContain('force');
        // Nothing happened to the sandbox.
        expect((await http.get(`/v1/sandboxes/${s.id}`).expect(200)).body.state).toBe('running');
      },
    );

    it('should answer 400 for a command body that is not an object', async () => {
      await http
        .post(`/v1/sandboxes/${s.id}/stop`)
        .set('Content-Type', 'application/json')
        .send('[1]')
        .expect(400);
    });

    it('should still accept an empty body and no body', async () => {
      await http.post(`/v1/sandboxes/${s.id}/keepalive`).send({}).expect(200);
      await http.post(`/v1/sandboxes/${s.id}/keepalive`).expect(200);
    });
  });

  describe('64 label filters', () => {
    it('should answer the sandboxes carrying all 64 labels, paged', async () => {
      const labels = Object.fromEntries([...Array(64)].map((_, i) => [`k${i}`, `v${i}`]));
      const all = [await create({ labels }), await create({ labels })];
      const missingOne = { ...labels, k63: 'other' };
      await create({ labels: missingOne });
      const label = Object.entries(labels).map(([k, v]) => `${k}=${v}`);

      const first = await http.get('/v1/sandboxes').query({ label, limit: 1 }).expect(200);
      expect(first.body.items.map((i: Json) => i.id)).toEqual([all[0].id]);
      expect(first.body.nextCursor).toEqual(expect.any(String));
      const second = await http
        .get('/v1/sandboxes')
        .query({ label, limit: 1, cursor: first.body.nextCursor })
        .expect(200);
      expect(second.body.items.map((i: Json) => i.id)).toEqual([all[1].id]);
      expect(second.body.nextCursor).toBeNull();

      const stopped = await http
        .get('/v1/sandboxes')
        .query({ label, state: 'stopped' })
        .expect(200);
      expect(stopped.body.items).toEqual([]);
    });
  });

  describe('protection means protection', () => {
    it('should refuse a plain DELETE of a stopped protected sandbox until it is unprotected', async () => {
      const s = await create({ protected: true });
      await http.post(`/v1/sandboxes/${s.id}/stop`).expect(200);
      const res = await http.delete(`/v1/sandboxes/${s.id}`).expect(409);
      expect(res.body).toMatchObject({ code: 'SANDBOX_PROTECTED' });
      expect((await http.get(`/v1/sandboxes/${s.id}`).expect(200)).body.state).toBe('stopped');
      await http.patch(`/v1/sandboxes/${s.id}`).send({ protected: false }).expect(200);
      await http.delete(`/v1/sandboxes/${s.id}`).expect(204);
      expect((await http.get(`/v1/sandboxes/${s.id}`).expect(200)).body.state).toBe('deleted');
    });

    it('should refuse a forced DELETE of a running protected sandbox and leave it running', async () => {
      const s = await create({ protected: true });
      const res = await http.delete(`/v1/sandboxes/${s.id}?force=true`).expect(409);
      expect(res.body).toMatchObject({ code: 'SANDBOX_PROTECTED' });
      expect((await http.get(`/v1/sandboxes/${s.id}`).expect(200)).body.state).toBe('running');
    });

    it('should keep a protected ephemeral sandbox (autoDeleteSeconds 0) stopped, not deleted', async () => {
      const s = await create({ protected: true, autoDeleteSeconds: 0 });
      const stopped = await http.post(`/v1/sandboxes/${s.id}/stop`).expect(200);
      expect(stopped.body.state).toBe('stopped');
      expect((await http.get(`/v1/sandboxes/${s.id}`).expect(200)).body.state).toBe('stopped');
    });

    it('should let auto-delete pass over a protected sandbox that is due', async () => {
      const s = await create({ protected: true, autoDeleteSeconds: 1 });
      await http.post(`/v1/sandboxes/${s.id}/stop`).expect(200);
      const later = new Date(Date.now() + 60_000);
      await t.app.get(SandboxAutomation).autoDeleteDue(later);
      expect((await http.get(`/v1/sandboxes/${s.id}`).expect(200)).body.state).toBe('stopped');
    });

    it('should protect and unprotect through PATCH, also on a stopped sandbox', async () => {
      const s = await create({});
      await http.post(`/v1/sandboxes/${s.id}/stop`).expect(200);
      const patched = await http.patch(`/v1/sandboxes/${s.id}`).send({ protected: true });
      expect(patched.status).toBe(200);
      expect(patched.body.protected).toBe(true);
      await http.delete(`/v1/sandboxes/${s.id}`).expect(409);
      await http.patch(`/v1/sandboxes/${s.id}`).send({ protected: false }).expect(200);
      await http.delete(`/v1/sandboxes/${s.id}`).expect(204);
      await http.patch(`/v1/sandboxes/${s.id}`).send({ protected: true }).expect(409);
    });
  });

  describe('racing deletes', () => {
    const RACERS = 8;
    it.each([
      ['a stopped sandbox', false],
      ['a running sandbox, forced', true],
    ])(`should answer 204 to each of ${RACERS} concurrent DELETEs of %s`, async (_case, live) => {
      const s = await create({ name: `race-${backend.replace('+', '-')}-${live}` });
      if (!live) await http.post(`/v1/sandboxes/${s.id}/stop`).expect(200);
      // Forced and not: once the first has deleted it, every other one finds a deleted sandbox,
      // which is the promised 204. (By name the others may answer 404: the name is free again.)
      const answers = await Promise.all(
        [...Array(RACERS)].map((_, i) =>
          http.delete(`/v1/sandboxes/${s.id}?force=${live || i % 2 === 0}`),
        ),
      );
      expect(answers.map((a) => `${a.status} ${a.body?.code ?? ''}`.trim())).toEqual(
        [...Array(RACERS)].map(() => '204'),
      );
      expect((await http.get(`/v1/sandboxes/${s.id}`).expect(200)).body.state).toBe('deleted');
    });
  });
});
