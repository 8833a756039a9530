import request from 'supertest';
import { Backend, TestApp, createTestApp } from '../support/app';
import { newAdminKey } from '../support/api-keys';
import { DEMO_IMAGE, ensureDemoImage } from '../support/docker';

type Json = Record<string, any>;

const ROCK = '/apis/envs/sandbox/v1';
const TENANTS = ['team-a', 'team-b', 'team-q'] as const;

describe.each<Backend>(['embedded', 'postgres+redis'])(
  'tenants through real API keys: scoping, the admin tenants API, limits (%s)',
  (backend) => {
    const admin = newAdminKey();
    let t: TestApp;
    let http: ReturnType<typeof request>;
    /** Each tenant's real API key (made with the admin key), and its id. */
    const keys: Record<string, { key: string; id: string }> = {};
    const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
    const as = (tenant: (typeof TENANTS)[number]) => bearer(keys[tenant].key);
    let A: Json;
    let B: Json;
    const ADMIN = bearer(admin);

    beforeAll(async () => {
      await ensureDemoImage();
      t = await createTestApp(backend, {
        ADMIN_API_KEY: admin,
        AUTO_DELETE_AFTER_SECONDS: '-1',
        // Far above what this suite fails (its bad requests are authenticated).
        AUTH_FAILURE_LIMIT: '100000',
      });
      http = request(t.app.getHttpServer());
      for (const tenant of TENANTS) {
        const made = await http
          .post('/v1/admin/api-keys')
          .set(ADMIN)
          .send({ tenant, name: 'tenants e2e' })
          .expect(201);
        keys[tenant] = { key: made.body.key, id: made.body.id };
      }
      A = as('team-a');
      B = as('team-b');
    });

    afterAll(async () => {
      await t?.close();
    });

    async function create(headers: Json, body: Json = {}): Promise<Json> {
      const res = await http
        .post('/v1/sandboxes?wait=true')
        .set(headers)
        .send({ image: DEMO_IMAGE, cpus: 0.25, memory: '64m', ...body });
      expect([res.status, res.body.code]).toEqual([200, undefined]);
      return res.body as Json;
    }

    it('refuses bad tenant names and limits with 400 naming the field', async () => {
      const bad: [string, Json, string][] = [
        ['/v1/admin/tenants/team-a/limits', { maxSandboxes: -1 }, 'maxSandboxes'],
        ['/v1/admin/tenants/team-a/limits', { maxSandboxes: 1.5 }, 'maxSandboxes'],
        ['/v1/admin/tenants/team-a/limits', { maxSandboxes: '3' }, 'maxSandboxes'],
        ['/v1/admin/tenants/team-a/limits', { maxCpus: -0.5 }, 'maxCpus'],
        ['/v1/admin/tenants/team-a/limits', { maxCpus: 'many' }, 'maxCpus'],
        ['/v1/admin/tenants/team-a/limits', { maxMemory: 'lots' }, 'maxMemory'],
        ['/v1/admin/tenants/team-a/limits', { maxMemory: ' 8g' }, 'maxMemory'],
        ['/v1/admin/tenants/team-a/limits', { maxMemory: 8 }, 'maxMemory'],
        ['/v1/admin/tenants/team-a/limits', { maxDisk: '8g' }, 'maxDisk'],
        ['/v1/admin/tenants/Team-A/limits', { maxSandboxes: 1 }, 'tenant'],
        ['/v1/admin/tenants/-a/limits', { maxSandboxes: 1 }, 'tenant'],
        [`/v1/admin/tenants/${'a'.repeat(65)}/limits`, { maxSandboxes: 1 }, 'tenant'],
      ];
      for (const [path, body, field] of bad) {
        const res = await http.put(path).set(ADMIN).send(body);
        expect([path, body, res.status, res.body.code]).toEqual([
          path,
          body,
          400,
          'VALIDATION_FAILED',
        ]);
        expect(Object.keys(res.body.details.fields)).toContain(field);
      }
      const badGet = await http.get('/v1/admin/tenants/a%20b').set(ADMIN).expect(400);
      expect(badGet.body.details.fields).toHaveProperty('tenant');
      const badList = await http.get('/v1/sandboxes?tenant=Team!').set(ADMIN).expect(400);
      expect(badList.body.details.fields).toHaveProperty('tenant');
    });

    it('shows any tenant, sets limits (absent kept, null cleared) and refuses a tenant with 403', async () => {
      const fresh = await http.get('/v1/admin/tenants/team-z').set(ADMIN).expect(200);
      expect(fresh.body).toEqual({
        tenant: 'team-z',
        limits: { maxSandboxes: null, maxCpus: null, maxMemory: null, maxMemoryBytes: null },
        limitsUpdatedAt: null,
        usage: { sandboxes: 0, liveSandboxes: 0, cpus: 0, memory: '0', memoryBytes: 0 },
      });
      const set = await http
        .put('/v1/admin/tenants/team-z/limits')
        .set(ADMIN)
        .send({ maxSandboxes: 3, maxCpus: 1.5, maxMemory: '8g' })
        .expect(200);
      expect(set.body.limits).toEqual({
        maxSandboxes: 3,
        maxCpus: 1.5,
        maxMemory: '8g',
        maxMemoryBytes: 8 * 1024 ** 3,
      });
      const cleared = await http
        .put('/v1/admin/tenants/team-z/limits')
        .set('X-API-Key', admin)
        .send({ maxCpus: null })
        .expect(200);
      expect(cleared.body.limits).toMatchObject({
        maxSandboxes: 3,
        maxCpus: null,
        maxMemory: '8g',
      });
      expect(typeof cleared.body.limitsUpdatedAt).toBe('string');

      for (const [method, path] of [
        ['get', '/v1/admin/tenants/team-a'],
        ['put', '/v1/admin/tenants/team-a/limits'],
      ] as const) {
        const res = await http[method](path).set(A).send({ maxSandboxes: 100 });
        expect([path, res.status, res.body.code]).toEqual([path, 403, 'FORBIDDEN']);
      }
    });

    it("keeps tenants apart: another tenant's sandbox is 404 everywhere, names are per tenant", async () => {
      const a = await create(A, { name: 'web' });
      expect(a).toMatchObject({ tenant: 'team-a', name: 'web', state: 'running' });
      const b = await create(B, { name: 'web' });
      expect(b).toMatchObject({ tenant: 'team-b', name: 'web' });
      expect(
        (await http.post('/v1/sandboxes').set(A).send({ image: DEMO_IMAGE, name: 'web' })).body
          .code,
      ).toBe('NAME_CONFLICT');

      const tries: [string, string, Json?][] = [
        ['get', `/v1/sandboxes/${a.id}`],
        ['patch', `/v1/sandboxes/${a.id}`, { protected: true }],
        ['post', `/v1/sandboxes/${a.id}/stop`],
        ['post', `/v1/sandboxes/${a.id}/restart`],
        ['post', `/v1/sandboxes/${a.id}/keepalive`],
        ['delete', `/v1/sandboxes/${a.id}?force=true`],
        ['post', `/v1/sandboxes/${a.id}/exec`, { command: 'id' }],
        ['get', `/v1/sandboxes/${a.id}/files?path=/etc/hostname`],
        ['delete', `/v1/sandboxes/${a.id}/files?path=/tmp/x`],
        ['get', `/v1/sandboxes/${a.id}/ports`],
      ];
      for (const [method, path, body] of tries) {
        const res = await http[method as 'get'](path)
          .set(B)
          .send(body ?? {});
        expect([method, path, res.status, res.body.code]).toEqual([
          method,
          path,
          404,
          'SANDBOX_NOT_FOUND',
        ]);
      }
      const upload = await http
        .put(`/v1/sandboxes/${a.id}/files?path=/tmp/x`)
        .set(B)
        .set('Content-Type', 'application/octet-stream')
        .send(Buffer.from('x'));
      expect([upload.status, upload.body.code]).toEqual([404, 'SANDBOX_NOT_FOUND']);
      // By name, each tenant reaches its own.
      expect((await http.get('/v1/sandboxes/web').set(A).expect(200)).body.id).toBe(a.id);
      expect((await http.get('/v1/sandboxes/web').set(B).expect(200)).body.id).toBe(b.id);

      // ROCK's routes are scoped the same way: team-b's get_status of team-a's sandbox is "not found".
      const rock = await http.get(`${ROCK}/get_status?sandbox_id=${a.id}`).set(B).expect(200);
      expect(rock.body).toMatchObject({ status: 'Failed' });
      expect(JSON.stringify(rock.body)).toContain('not found');
      const own = await http.get(`${ROCK}/get_status?sandbox_id=${a.id}`).set(A).expect(200);
      expect(own.body).toMatchObject({ status: 'Success' });

      // Lists: each tenant its own; the admin everyone's, filtered by ?tenant=.
      const ids = async (headers: Json, query = '') =>
        (
          (await http.get(`/v1/sandboxes${query}`).set(headers).expect(200)).body.items as Json[]
        ).map((s) => s.id);
      expect(await ids(A)).toEqual([a.id]);
      expect(await ids(B, '?tenant=team-a')).toEqual([]);
      expect(await ids(ADMIN, '?tenant=team-a')).toEqual([a.id]);
      expect(await ids(ADMIN)).toEqual(expect.arrayContaining([a.id, b.id]));

      // The owner still can do everything, and the history says who did it.
      const stopped = await http.post(`/v1/sandboxes/${a.id}/stop`).set(A).expect(200);
      expect(stopped.body.stateHistory.at(-1)).toMatchObject({
        event: 'stop',
        actor: { kind: 'tenant', tenant: 'team-a', keyId: keys['team-a'].id },
      });
      await http.delete(`/v1/sandboxes/${a.id}`).set(ADMIN).expect(204);
      await http.delete(`/v1/sandboxes/${b.id}?force=true`).set(B).expect(204);
    });

    it('answers 429 TENANT_QUOTA_EXCEEDED beyond a limit, counting what the tenant holds', async () => {
      await http
        .put('/v1/admin/tenants/team-q/limits')
        .set(ADMIN)
        .send({ maxSandboxes: 1, maxMemory: '128m' })
        .expect(200);
      const Q = as('team-q');
      const first = await create(Q, { memory: '64m' });

      const over = await http
        .post('/v1/sandboxes')
        .set(Q)
        .send({ image: DEMO_IMAGE, memory: '64m' })
        .expect(429);
      expect(over.body).toMatchObject({
        code: 'TENANT_QUOTA_EXCEEDED',
        details: { tenant: 'team-q', limit: 'maxSandboxes', max: 1, current: 1, requested: 1 },
      });
      expect(over.body.message).toContain('maxSandboxes');
      // The admin is not held to team-q's limits.
      const admins = await create(ADMIN, { memory: '64m' });
      expect(admins.tenant).toBeNull();

      const shown = await http.get('/v1/admin/tenants/team-q').set(ADMIN).expect(200);
      expect(shown.body.usage).toEqual({
        sandboxes: 1,
        liveSandboxes: 1,
        cpus: 0.25,
        memory: '64m',
        memoryBytes: 64 * 1024 ** 2,
      });

      await http
        .put('/v1/admin/tenants/team-q/limits')
        .set(ADMIN)
        .send({ maxSandboxes: null })
        .expect(200);
      const memory = await http
        .post('/v1/sandboxes')
        .set(Q)
        .send({ image: DEMO_IMAGE, memory: '128m' })
        .expect(429);
      expect(memory.body.details).toMatchObject({
        limit: 'maxMemory',
        max: 128 * 1024 ** 2,
        current: 64 * 1024 ** 2,
        requested: 128 * 1024 ** 2,
      });
      // Through ROCK too: the refusal is ROCK's 4000 failure naming the code.
      const rock = await http
        .post(`${ROCK}/start_async`)
        .set(Q)
        .send({ image: DEMO_IMAGE, memory: '128m', cpus: 0.25 })
        .expect(200);
      expect(JSON.stringify(rock.body)).toContain('TENANT_QUOTA_EXCEEDED');

      await http.delete(`/v1/sandboxes/${first.id}?force=true`).set(Q).expect(204);
      await http.delete(`/v1/sandboxes/${admins.id}?force=true`).set(ADMIN).expect(204);
      expect((await create(Q, { memory: '128m' })).tenant).toBe('team-q');
    });
  },
);
