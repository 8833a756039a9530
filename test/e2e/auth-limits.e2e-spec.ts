import type { AddressInfo } from 'node:net';
import { E2bServer } from '@app/e2b';
import { Backend, TestApp, createTestApp } from '../support/app';
import { Answer, call, createKey, newAdminKey } from '../support/api-keys';
import { DEMO_IMAGE, ensureDemoImage } from '../support/docker';

/**
 * Brute force (issue 12): failed authentications are counted per client address, only failures
 * count, and past AUTH_FAILURE_LIMIT the address gets 429 AUTH_RATE_LIMITED with Retry-After on
 * every edge, whatever key it then sends. In-process memory on the embedded default, Redis with
 * PostgreSQL+Redis. Every request here comes from 127.0.0.1, so the suite has its own app.
 */
describe.each<Backend>(['embedded', 'postgres+redis'])('failed authentications (%s)', (backend) => {
  const admin = newAdminKey();
  const LIMIT = 5;
  let t: TestApp;
  let base: string;
  let e2b: string;

  beforeAll(async () => {
    await ensureDemoImage();
    t = await createTestApp(backend, {
      ADMIN_API_KEY: admin,
      AUTH_FAILURE_LIMIT: String(LIMIT),
      AUTH_FAILURE_WINDOW_SECONDS: '120',
      SCHEDULER_ENABLED: 'false',
      E2B_PORT: '0',
      E2B_TEMPLATES: `base=${DEMO_IMAGE}`,
    });
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    e2b = `http://127.0.0.1:${t.app.get(E2bServer).port}`;
  });

  afterAll(async () => {
    await t?.close();
  });

  it('should count only failures, then refuse the address with 429 and Retry-After everywhere', async () => {
    const { key } = await createKey(base, admin, 'team-a');
    // Successes never count, however many.
    for (let i = 0; i < 3 * LIMIT; i += 1) {
      expect((await call(base, 'GET', '/v1/sandboxes', { key })).status).toBe(200);
    }
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT; i += 1) {
      statuses.push((await call(base, 'GET', '/v1/sandboxes', { key: `${key}x` })).status);
    }
    expect(statuses).toEqual(Array(LIMIT).fill(401));
    const over = await call(base, 'GET', '/v1/sandboxes', { key: 'sbxd_guess' });
    expectRateLimited(over);
    expect(over.body.details.retryAfterSeconds).toBe(Number(over.headers.get('retry-after')));

    // Now every key from this address is refused until the window ends: the right one, the
    // admin's, on ROCK's routes (in its envelope) and on E2B's control plane.
    expectRateLimited(await call(base, 'GET', '/v1/sandboxes', { key }));
    expectRateLimited(await call(base, 'GET', '/v1/admin/api-keys', { key: admin }));
    const rock = await call(base, 'GET', '/apis/envs/sandbox/v1/get_status?sandbox_id=x', {
      headers: { 'X-API-Key': key },
    });
    expect(rock.status).toBe(200);
    expect(rock.body).toMatchObject({ status: 'Failed', error: /^AUTH_RATE_LIMITED: / });
    expect(Number(rock.headers.get('retry-after'))).toBeGreaterThan(0);
    const e2bAnswer = await call(e2b, 'GET', '/sandboxes', { headers: { 'X-API-KEY': key } });
    expect(e2bAnswer.status).toBe(429);
    expect(e2bAnswer.body).toEqual({ code: 429, message: expect.stringMatching(/retry in/) });
    expect(Number(e2bAnswer.headers.get('retry-after'))).toBeGreaterThan(0);
    // Routes that take no key stay open.
    expect((await call(base, 'GET', '/health/live')).status).toBe(200);
  });
});

function expectRateLimited(res: Answer): void {
  expect(res.status).toBe(429);
  expect(res.body.code).toBe('AUTH_RATE_LIMITED');
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(120);
}
