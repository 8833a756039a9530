import type { AddressInfo } from 'node:net';
import { AuthenticationError, Sandbox } from 'e2b';
import { E2bServer } from '@app/e2b';
import { Backend, TestApp, createTestApp, eventually } from '../support/app';
import { call, createKey, newAdminKey, rawGet, rawStatus } from '../support/api-keys';
import { DEMO_IMAGE, ensureDemoImage, testDocker } from '../support/docker';

const ROCK = '/apis/envs/sandbox/v1';

async function listening(t: TestApp): Promise<{ base: string; port: number }> {
  await t.app.listen(0, '127.0.0.1');
  const { port } = t.app.getHttpServer().address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}`, port };
}

/**
 * API keys through the whole AppModule (issue 12), on both backends: which routes take which
 * key, the admin API, revocation, every malformed key as a 401, the E2B control plane and ROCK's
 * envelope. The brute-force limit and the start-up rules have suites of their own below.
 */
describe.each<Backend>(['embedded', 'postgres+redis'])('API keys (%s)', (backend) => {
  const admin = newAdminKey();
  let t: TestApp;
  let base: string;
  let port: number;
  let e2b: string;

  beforeAll(async () => {
    await ensureDemoImage();
    t = await createTestApp(backend, {
      ADMIN_API_KEY: admin,
      // Far above what this suite fails, so its bad keys stay 401s (see the limit's own suite).
      AUTH_FAILURE_LIMIT: '100000',
      SCHEDULER_ENABLED: 'false',
      E2B_PORT: '0',
      E2B_TEMPLATES: `base=${DEMO_IMAGE}`,
    });
    ({ base, port } = await listening(t));
    e2b = `http://127.0.0.1:${t.app.get(E2bServer).port}`;
  });

  afterAll(async () => {
    await t?.close();
  });

  it('should refuse every /v1 route without a key: 401 UNAUTHENTICATED with WWW-Authenticate', async () => {
    const routes: [string, string, unknown?][] = [
      ['GET', '/v1/sandboxes'],
      ['POST', '/v1/sandboxes', { image: DEMO_IMAGE }],
      ['GET', '/v1/sandboxes/some-name'],
      ['POST', '/v1/sandboxes/some-name/stop'],
      ['POST', '/v1/sandboxes/some-name/exec', { command: ['true'] }],
      ['GET', '/v1/sandboxes/some-name/files?path=/etc/hostname'],
      ['DELETE', '/v1/sandboxes/some-name?force=true'],
      ['GET', '/v1/admin/reconcile'],
      ['POST', '/v1/admin/reconcile'],
      ['POST', '/v1/admin/api-keys', { tenant: 'team-a', name: 'x' }],
      ['GET', '/v1/admin/api-keys'],
      ['DELETE', '/v1/admin/api-keys/0123456789abcdef'],
      ['GET', '/metrics'],
    ];
    for (const [method, path, body] of routes) {
      const res = await call(base, method, path, { body });
      expect({ path, status: res.status, code: res.body?.code }).toEqual({
        path,
        status: 401,
        code: 'UNAUTHENTICATED',
      });
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="sandboxd"');
      expect(res.body.message).toMatch(/Authorization: Bearer <key>.*X-API-Key/);
    }
    const made = await testDocker().listContainers({
      all: true,
      filters: { label: [`io.sandboxd.instance=${t.config.docker.instanceId}`] },
    });
    expect(made).toHaveLength(0);
  });

  it("should answer ROCK's routes without a key in ROCK's envelope", async () => {
    const start = await call(base, 'POST', `${ROCK}/start_async`, { body: { image: DEMO_IMAGE } });
    expect(start.status).toBe(200);
    expect(start.body).toMatchObject({
      status: 'Failed',
      error: expect.stringMatching(/^UNAUTHENTICATED: /),
      result: { code: 4000 },
    });
    expect(start.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const status = await call(base, 'GET', `${ROCK}/get_status?sandbox_id=x`);
    expect(status.body).toMatchObject({ status: 'Failed', error: /UNAUTHENTICATED/ });
    // With a key (ROCK users pass it in extra_headers) the route itself answers.
    const known = await call(base, 'GET', `${ROCK}/get_status?sandbox_id=nope`, {
      headers: { 'X-API-Key': admin },
    });
    expect(known.body.status).toBe('Failed');
    expect(known.body.error).not.toMatch(/UNAUTHENTICATED/);
    // ROCK's own X-Key header carries a key too, the way ROCK users already send theirs.
    const viaXKey = await call(base, 'GET', `${ROCK}/get_status?sandbox_id=nope`, {
      headers: { 'X-Key': admin },
    });
    expect(viaXKey.body.error).not.toMatch(/UNAUTHENTICATED/);
    const wrongXKey = await call(base, 'GET', `${ROCK}/get_status?sandbox_id=nope`, {
      headers: { 'X-Key': 'k123' },
    });
    expect(wrongXKey.body).toMatchObject({ status: 'Failed', error: /UNAUTHENTICATED.*X-Key/ });
    // X-Key is ROCK's: on /v1 it is no key.
    const v1 = await call(base, 'GET', '/v1/sandboxes', { headers: { 'X-Key': admin } });
    expect(v1.status).toBe(401);
  });

  it('should keep the health probes, the docs and their document open', async () => {
    expect((await call(base, 'GET', '/health/live')).status).toBe(200);
    expect([200, 503]).toContain((await call(base, 'GET', '/health')).status);
    const docs = await call(base, 'GET', '/docs');
    expect(docs.status).toBe(200);
    expect(String(docs.body)).toContain('swagger-ui');
    const document = (await call(base, 'GET', '/docs-json')).body;
    expect(document.components.securitySchemes).toEqual({
      bearer: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      'api-key': expect.objectContaining({ type: 'apiKey', in: 'header', name: 'X-API-Key' }),
    });
    expect(document.security).toEqual([{ bearer: [] }, { 'api-key': [] }]);
    expect(document.paths['/health/live'].get.security).toEqual([]);
    expect(document.paths['/v1/sandboxes'].post.security).toBeUndefined();
    expect(document.paths['/v1/admin/api-keys'].post['x-sandboxd-access']).toBe('admin');
  });

  it('should take the admin key as Bearer or X-API-Key, with any casing of either', async () => {
    const ways: Record<string, string>[] = [
      { Authorization: `Bearer ${admin}` },
      { authorization: `bearer ${admin}` },
      { AUTHORIZATION: `BEARER ${admin}` },
      { 'X-API-Key': admin },
      { 'X-API-KEY': admin },
      { 'x-api-key': admin },
      { Authorization: `Bearer ${admin}`, 'X-API-Key': admin },
    ];
    for (const headers of ways) {
      expect((await call(base, 'GET', '/v1/admin/reconcile', { headers })).status).toBe(200);
    }
    const metrics = await call(base, 'GET', '/metrics', { key: admin });
    expect(metrics.status).toBe(200);
    expect(String(metrics.body)).toContain('sandboxd_');
  });

  it("should make a key that is shown once, listed without it, and reaches the tenant's routes", async () => {
    const made = await call(base, 'POST', '/v1/admin/api-keys', {
      key: admin,
      body: { tenant: 'team-a', name: 'ci runner' },
    });
    expect(made.status).toBe(201);
    expect(made.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{16}$/),
      key: expect.stringMatching(/^sbxd_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/),
      tenant: 'team-a',
      name: 'ci runner',
      prefix: `sbxd_${made.body.id}`,
      createdAt: expect.any(String),
    });
    const { id, key } = made.body;
    expect(key.startsWith(`sbxd_${id}_`)).toBe(true);
    const listed = await call(base, 'GET', '/v1/admin/api-keys', { key: admin });
    expect(listed.status).toBe(200);
    const entry = listed.body.items.find((k: any) => k.id === id);
    expect(entry).toEqual({
      id,
      name: 'ci runner',
      tenant: 'team-a',
      prefix: `sbxd_${id}`,
      createdAt: made.body.createdAt,
      lastUsedAt: null,
    });
    expect(JSON.stringify(listed.body)).not.toContain(key.slice(22));
    const filtered = await call(base, 'GET', '/v1/admin/api-keys?tenant=team-zzz', { key: admin });
    expect(filtered.body.items).toEqual([]);

    expect((await call(base, 'GET', '/v1/sandboxes', { key })).status).toBe(200);
    expect(
      (await call(base, 'GET', '/v1/sandboxes', { headers: { 'X-API-KEY': key } })).status,
    ).toBe(200);
    // Its use is recorded (once a minute at most), and still no key is listed.
    const used = await eventually(async () => {
      const res = await call(base, 'GET', '/v1/admin/api-keys?tenant=team-a', { key: admin });
      const seen = res.body.items.find((k: any) => k.id === id);
      return seen?.lastUsedAt ?? undefined;
    });
    expect(Date.parse(used)).toBeGreaterThanOrEqual(Date.parse(made.body.createdAt));
  });

  it('should name the key that acted in the history: the tenant and key id, or the admin', async () => {
    const { key, id } = await createKey(base, admin, 'team-h');
    const small = { image: DEMO_IMAGE, cpus: 0.1, memory: '32m' };
    const mine = await call(base, 'POST', '/v1/sandboxes?wait=true', { key, body: small });
    expect(mine.status).toBe(200);
    expect(mine.body.tenant).toBe('team-h');
    expect(mine.body.stateHistory[0].actor).toEqual({
      kind: 'tenant',
      tenant: 'team-h',
      keyId: id,
    });
    const stopped = await call(base, 'POST', `/v1/sandboxes/${mine.body.id}/stop`, {
      key: admin,
    });
    expect(stopped.body.stateHistory.at(-1).actor).toEqual({
      kind: 'admin',
      tenant: null,
      keyId: 'admin',
    });
    expect((await call(base, 'DELETE', `/v1/sandboxes/${mine.body.id}`, { key })).status).toBe(204);
  });

  it('should refuse a tenant key on every admin route with 403 FORBIDDEN', async () => {
    const { key, id } = await createKey(base, admin, 'team-b');
    const routes: [string, string, unknown?][] = [
      ['GET', '/v1/admin/reconcile'],
      ['POST', '/v1/admin/reconcile'],
      ['GET', '/V1/ADMIN/RECONCILE'],
      ['GET', '/v1/admin/reconcile/'],
      ['GET', '/v1/admin/api-keys'],
      ['POST', '/v1/admin/api-keys', { tenant: 'team-b', name: 'mine' }],
      ['DELETE', `/v1/admin/api-keys/${id}`],
      ['GET', '/metrics'],
    ];
    for (const [method, path, body] of routes) {
      const res = await call(base, method, path, { key, body });
      expect({ path, status: res.status, code: res.body?.code }).toEqual({
        path,
        status: 403,
        code: 'FORBIDDEN',
      });
    }
    // It could not revoke itself.
    expect((await call(base, 'GET', '/v1/sandboxes', { key })).status).toBe(200);
  });

  it('should answer 400 naming the field for a bad key request', async () => {
    const bodies: [unknown, string][] = [
      [{ name: 'x' }, 'tenant'],
      [{ tenant: 'Team-A', name: 'x' }, 'tenant'],
      [{ tenant: '-a', name: 'x' }, 'tenant'],
      [{ tenant: 'a'.repeat(65), name: 'x' }, 'tenant'],
      [{ tenant: 'a/b', name: 'x' }, 'tenant'],
      [{ tenant: 42, name: 'x' }, 'tenant'],
      [{ tenant: 'team-a' }, 'name'],
      [{ tenant: 'team-a', name: '' }, 'name'],
      [{ tenant: 'team-a', name: '   ' }, 'name'],
      [{ tenant: 'team-a', name: 'a\u0000b' }, 'name'],
      [{ tenant: 'team-a', name: 'x'.repeat(129) }, 'name'],
      [{ tenant: 'team-a', name: ['x'] }, 'name'],
      [{ tenant: 'team-a', name: 'x', key: 'sbxd_mine' }, 'key'],
    ];
    for (const [body, field] of bodies) {
      const res = await call(base, 'POST', '/v1/admin/api-keys', { key: admin, body });
      expect({ body, status: res.status, code: res.body.code }).toEqual({
        body,
        status: 400,
        code: 'VALIDATION_FAILED',
      });
      expect(Object.keys(res.body.details.fields)).toContain(field);
    }
    const notJson = await fetch(`${base}/v1/admin/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: '{"tenant":',
    });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { code: string }).code).toBe('MALFORMED_JSON');
    const badQuery = await call(base, 'GET', '/v1/admin/api-keys?tenant=Bad!', { key: admin });
    expect(badQuery.status).toBe(400);
    expect(badQuery.body.details.fields).toHaveProperty('tenant');
  });

  it('should revoke a key: 401 to it at once, 204 again, 404 for an id that is no key', async () => {
    const { key, id } = await createKey(base, admin, 'team-c');
    expect((await call(base, 'GET', '/v1/sandboxes', { key })).status).toBe(200);
    const revoked = await call(base, 'DELETE', `/v1/admin/api-keys/${id}`, { key: admin });
    expect(revoked.status).toBe(204);
    const refused = await call(base, 'GET', '/v1/sandboxes', { key });
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('UNAUTHENTICATED');
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await call(base, 'DELETE', `/v1/admin/api-keys/${id}`, { key: admin })).status).toBe(
      204,
    );
    const listed = await call(base, 'GET', '/v1/admin/api-keys?tenant=team-c', { key: admin });
    expect(listed.body.items).toEqual([]);
    for (const other of ['0123456789abcdef', 'not-a-key-id', 'x'.repeat(300)]) {
      const res = await call(base, 'DELETE', `/v1/admin/api-keys/${other}`, { key: admin });
      expect({ other, status: res.status, code: res.body.code }).toEqual({
        other,
        status: 404,
        code: 'API_KEY_NOT_FOUND',
      });
    }
  });

  it('should answer 401, never a 5xx, to every wrong, malformed, overlong or binary key', async () => {
    const { key } = await createKey(base, admin, 'team-d');
    const wrong: Record<string, string>[] = [
      { authorization: `Bearer ${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}` },
      { authorization: `Bearer sbxd_0123456789abcdef_${'A'.repeat(43)}` },
      { authorization: `Bearer ${admin}x` },
      { authorization: `Bearer ${admin.slice(0, -1)}` },
      { authorization: `Basic ${Buffer.from(`admin:${admin}`).toString('base64')}` },
      { authorization: admin },
      { authorization: 'Bearer' },
      { authorization: 'Bearer ' },
      { authorization: `Bearer ${key} ${key}` },
      { authorization: `Bearer ${key}`, 'x-api-key': admin },
      { 'x-api-key': '' },
      { 'x-api-key': 'sbxd_' },
      { 'x-api-key': `${key}\u00e9` },
      { 'x-api-key': '\u00ff\u00fe\u0080binary' },
      { 'x-api-key': 'a'.repeat(10_000) },
      { authorization: `Bearer ${'a'.repeat(10_000)}` },
    ];
    for (const headers of wrong) {
      const res = await call(base, 'GET', '/v1/sandboxes', { headers });
      expect({ headers: Object.keys(headers), status: res.status, code: res.body?.code }).toEqual({
        headers: Object.keys(headers),
        status: 401,
        code: 'UNAUTHENTICATED',
      });
    }
    // Bytes no client library would send: node's parser answers 400 for control characters, 431
    // for a head over 16 KiB; Latin-1 bytes reach the guard and are a 401.
    const raw: [Buffer, number][] = [
      [Buffer.concat([Buffer.from('X-API-Key: '), Buffer.from([0xc3, 0x28, 0xff, 0x80])]), 401],
      [Buffer.concat([Buffer.from('Authorization: Bearer '), Buffer.from([0xe2, 0x82])]), 401],
      [
        Buffer.concat([Buffer.from('X-API-Key: a'), Buffer.from([0x00, 0x01]), Buffer.from('b')]),
        400,
      ],
      [Buffer.from(`X-API-Key: ${'k'.repeat(20_000)}`), 431],
      [Buffer.from(`X-API-Key: ${key}\r\nX-API-Key: ${key}`), 401],
    ];
    for (const [line, expected] of raw) {
      expect(await rawStatus(port, rawGet('/v1/sandboxes', [line]))).toBe(expected);
    }
    // The service is fine after all of it.
    expect((await call(base, 'GET', '/v1/sandboxes', { key })).status).toBe(200);
  });

  it("should take the same keys on E2B's control plane, answering E2B's 401", async () => {
    const none = await call(e2b, 'GET', '/sandboxes');
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ code: 401, message: expect.stringMatching(/no API key/) });
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const bad = await call(e2b, 'GET', '/v2/sandboxes', { headers: { 'X-API-KEY': 'e2b_nope' } });
    expect(bad.status).toBe(401);
    expect((await call(e2b, 'GET', '/sandboxes', { headers: { 'X-API-KEY': admin } })).status).toBe(
      200,
    );
    const { key } = await createKey(base, admin, 'team-e');
    const other = await createKey(base, admin, 'team-f');
    const opts = { apiKey: key, apiUrl: e2b, sandboxUrl: e2b };
    const sbx = await Sandbox.create({ ...opts, metadata: { suite: 'auth' } });
    try {
      expect((await sbx.commands.run('echo keyed')).stdout).toBe('keyed\n');
      // The key's tenant owns it: another tenant's key does not see it there, the admin's does.
      const asOther = { headers: { 'X-API-KEY': other.key } };
      expect((await call(e2b, 'GET', `/sandboxes/${sbx.sandboxId}`, asOther)).status).toBe(404);
      const listed = await call(e2b, 'GET', '/v2/sandboxes', asOther);
      expect(listed.body.map((s: { sandboxID: string }) => s.sandboxID)).not.toContain(
        sbx.sandboxId,
      );
      const view = await call(base, 'GET', `/v1/sandboxes/${sbx.sandboxId}`, { key: admin });
      expect(view.body.tenant).toBe('team-e');
    } finally {
      await sbx.kill();
    }
    await expect(Sandbox.create({ ...opts, apiKey: `${key}x` })).rejects.toBeInstanceOf(
      AuthenticationError,
    );
  });
});
