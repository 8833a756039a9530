import request from 'supertest';
import { TestApp, createTestApp, eventually } from '../../support/app';
import { DEMO_IMAGE, ensureDemoImage } from '../../support/docker';
import { WebhookReceiver } from '../../support/webhook-receiver';

/**
 * Receivers that misbehave, addresses that must not be reached, and admission policies: every
 * one is a 4xx or a recorded failed attempt, never a 5xx, and none holds up the others.
 */
describe('hostile webhook receivers and extension policies', () => {
  let t: TestApp;
  let api: ReturnType<typeof request>;
  const receivers: WebhookReceiver[] = [];

  const receiver = async (): Promise<WebhookReceiver> => {
    const started = await WebhookReceiver.start();
    receivers.push(started);
    return started;
  };
  const register = async (r: WebhookReceiver): Promise<string> => {
    const hook = await api.post('/v1/webhooks').send({ url: r.url }).expect(201);
    r.secret = hook.body.secret;
    return hook.body.id;
  };
  const deliveries = async (hook: string): Promise<any[]> =>
    (await api.get(`/v1/webhooks/${hook}/deliveries`).expect(200)).body.items;
  const finished = (hook: string, count: number) =>
    eventually(async () => {
      const items = (await deliveries(hook)).filter((d) => d.status !== 'pending');
      return items.length >= count ? items : undefined;
    }, 30_000);

  beforeAll(async () => {
    await ensureDemoImage();
    t = await createTestApp('embedded', {
      WEBHOOK_RETRY_SCHEDULE: '200ms,200ms',
      WEBHOOK_TIMEOUT_SECONDS: '1',
      EXTENSIONS: 'webhooks,image-policy',
      ALLOWED_IMAGES: 'sandboxd/*',
    });
    api = request(t.app.getHttpServer());
  });

  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await t?.close();
  });

  it('records a redirect, a stall and an error answer as failed attempts, retried per schedule', async () => {
    const redirecting = await receiver();
    redirecting.behave = (_req, res) => {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data' });
      res.end();
      return true;
    };
    const stalling = await receiver();
    stalling.behave = () => true; // Never answers: the 1 s timeout ends each attempt.
    const failing = await receiver();
    failing.answer = 500;
    const hooks = await Promise.all([redirecting, stalling, failing].map(register));
    await Promise.all(hooks.map((hook) => api.post(`/v1/webhooks/${hook}/test`).expect(202)));
    const [redirected, stalled, failed] = await Promise.all(hooks.map((hook) => finished(hook, 1)));
    for (const items of [redirected, stalled, failed]) {
      expect(items[0].status).toBe('failed');
      expect(items[0].attempts.map((a: any) => a.attempt)).toEqual([1, 2, 3]);
    }
    expect(redirected[0].attempts[0]).toMatchObject({ statusCode: 302 });
    expect(redirected[0].attempts[0].error).toMatch(/redirect not followed/);
    expect(stalled[0].attempts[0]).toMatchObject({ statusCode: null });
    expect(stalled[0].attempts[0].error).toMatch(/timed out/);
    expect(failed[0].attempts[0]).toMatchObject({ statusCode: 500 });
    // The redirect was never followed: nothing else was asked of anyone.
    expect(redirecting.received).toHaveLength(3);
  });

  it('reads at most 64 KiB of a huge answer and counts its 2xx', async () => {
    const huge = await receiver();
    huge.behave = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(1024 * 1024, 'x');
      let sent = 0;
      const pump = (): void => {
        while (sent < 64 && res.write(chunk)) sent += 1;
        if (sent < 64 && !res.destroyed) res.once('drain', pump);
        else res.end();
      };
      pump();
      return true;
    };
    const hook = await register(huge);
    await api.post(`/v1/webhooks/${hook}/test`).expect(202);
    const [item] = await finished(hook, 1);
    expect(item).toMatchObject({ status: 'succeeded' });
    expect(item.attempts).toEqual([expect.objectContaining({ statusCode: 200, error: null })]);
  });

  it('delivers to a fast receiver while a slow one stalls', async () => {
    const slow = await receiver();
    slow.behave = () => true;
    const fast = await receiver();
    const slowHook = await register(slow);
    await register(fast);
    const created = await api
      .post('/v1/sandboxes?wait=true')
      .send({ image: DEMO_IMAGE })
      .expect(200);
    const mine = (r: WebhookReceiver) =>
      r.received.filter((d) => d.body.data.sandboxId === created.body.id).map((d) => d.body.type);
    await eventually(() => Promise.resolve(mine(fast).length >= 2 ? true : undefined));
    // The slow receiver is still stuck on the first event (its attempts time out one by one, and
    // this sandbox's next event waits behind it), yet the fast one has both.
    expect(mine(fast)).toEqual(['sandbox.created', 'sandbox.running']);
    expect(mine(slow)).not.toContain('sandbox.running');
    expect(fast.accepted().every((d) => d.verified)).toBe(true);
    await api.delete(`/v1/webhooks/${slowHook}`).expect(204);
    await api.delete(`/v1/sandboxes/${created.body.id}?force=true`).expect(204);
  });

  it('refuses an image ALLOWED_IMAGES does not match with 403 IMAGE_NOT_ALLOWED, before any record', async () => {
    const before = (await api.get('/v1/events?type=sandbox.created&limit=500').expect(200)).body
      .items.length;
    const res = await api.post('/v1/sandboxes').send({ image: 'alpine:3.20' }).expect(403);
    expect(res.body).toMatchObject({
      code: 'IMAGE_NOT_ALLOWED',
      details: { image: 'alpine:3.20' },
    });
    const after = (await api.get('/v1/events?type=sandbox.created&limit=500').expect(200)).body
      .items.length;
    expect(after).toBe(before);
  });
});

describe('webhook addresses when private ones are refused', () => {
  let t: TestApp;
  let api: ReturnType<typeof request>;

  beforeAll(async () => {
    t = await createTestApp('embedded', { WEBHOOK_ALLOW_PRIVATE: 'false' });
    api = request(t.app.getHttpServer());
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses loopback, private, link-local and mapped addresses, by literal or by name, with 403', async () => {
    for (const url of [
      'http://127.0.0.1:8080/hook',
      'http://localhost/hook',
      'http://10.1.2.3/',
      'http://172.16.0.1/',
      'http://192.168.1.1/',
      'http://169.254.169.254/latest/meta-data',
      'http://100.64.0.1/',
      'http://0.0.0.0/',
      'http://[::1]/',
      'http://[::ffff:127.0.0.1]/',
      'http://[fd00::1]/',
      'http://[fe80::1]/',
      'https://2130706433/',
    ]) {
      const res = await api.post('/v1/webhooks').send({ url });
      expect([url, res.status, res.body.code]).toEqual([url, 403, 'WEBHOOK_URL_NOT_ALLOWED']);
    }
  });
});
