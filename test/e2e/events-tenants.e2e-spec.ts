import request from 'supertest';
import { TestApp, createTestApp, eventually } from '../support/app';
import { newAdminKey } from '../support/api-keys';
import { DEMO_IMAGE, ensureDemoImage } from '../support/docker';
import { WebhookReceiver } from '../support/webhook-receiver';

type Json = Record<string, any>;

/** Events and webhooks through real API keys: each tenant sees and receives its own. */
describe('events and webhooks are scoped to the tenant key', () => {
  const admin = newAdminKey();
  let t: TestApp;
  let http: ReturnType<typeof request>;
  let receiver: WebhookReceiver;
  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
  const ADMIN = bearer(admin);
  let A: Json;
  let B: Json;
  let keyOfA: string;

  beforeAll(async () => {
    await ensureDemoImage();
    receiver = await WebhookReceiver.start();
    t = await createTestApp('embedded', {
      ADMIN_API_KEY: admin,
      // The receiver is on 127.0.0.1, which auth on refuses by default (see the last test).
      WEBHOOK_ALLOW_PRIVATE: 'true',
      AUTH_FAILURE_LIMIT: '100000',
    });
    http = request(t.app.getHttpServer());
    const key = async (tenant: string) =>
      (
        await http
          .post('/v1/admin/api-keys')
          .set(ADMIN)
          .send({ tenant, name: 'events e2e' })
          .expect(201)
      ).body;
    const a = await key('team-a');
    keyOfA = a.id;
    A = bearer(a.key);
    B = bearer((await key('team-b')).key);
  });

  afterAll(async () => {
    await receiver?.close();
    await t?.close();
  });

  it("shows a tenant only its own tenant's events, in pages and in webhooks", async () => {
    await http.get('/v1/events').expect(401);
    const hook = await http.post('/v1/webhooks').set(A).send({ url: receiver.url }).expect(201);
    expect(hook.body.tenant).toBe('team-a');
    receiver.secret = hook.body.secret;
    const create = (who: Json) =>
      http
        .post('/v1/sandboxes?wait=true')
        .set(who)
        .send({ image: DEMO_IMAGE, cpus: 0.25, memory: '64m' })
        .expect(200);
    const ours = await create(A);
    const theirs = await create(B);

    const seenByA = (await http.get('/v1/events?limit=500').set(A).expect(200)).body.items;
    expect(seenByA.map((e: Json) => e.sandboxId)).toContain(ours.body.id);
    expect(seenByA.every((e: Json) => e.tenant === 'team-a')).toBe(true);
    expect(seenByA[0]).toMatchObject({
      actor: { kind: 'tenant', tenant: 'team-a', keyId: keyOfA },
      sandbox: { tenant: 'team-a' },
    });
    const filtered = await http.get(`/v1/events?sandbox=${theirs.body.id}`).set(A).expect(200);
    expect(filtered.body.items).toEqual([]);
    const seenByAdmin = (await http.get('/v1/events?limit=500').set(ADMIN).expect(200)).body.items;
    expect(seenByAdmin.map((e: Json) => e.sandboxId)).toEqual(
      expect.arrayContaining([ours.body.id, theirs.body.id]),
    );

    await eventually(() => Promise.resolve(receiver.accepted().length >= 2 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const delivered = receiver.accepted().map((d) => d.body.data.sandboxId);
    expect(new Set(delivered)).toEqual(new Set([ours.body.id]));
    expect(receiver.accepted().every((d) => d.verified)).toBe(true);

    // Another tenant neither sees nor touches the webhook.
    expect((await http.get('/v1/webhooks').set(B).expect(200)).body.items).toEqual([]);
    await http.delete(`/v1/webhooks/${hook.body.id}`).set(B).expect(404);
    await http.get(`/v1/webhooks/${hook.body.id}/deliveries`).set(B).expect(404);
    await http.post(`/v1/webhooks/${hook.body.id}/test`).set(B).expect(404);
    await http.delete(`/v1/webhooks/${hook.body.id}`).set(A).expect(204);
    await http.delete(`/v1/sandboxes/${ours.body.id}?force=true`).set(A).expect(204);
    await http.delete(`/v1/sandboxes/${theirs.body.id}?force=true`).set(B).expect(204);
  });

  it('refuses a private webhook address by default once auth is on', async () => {
    const strict = await createTestApp('embedded', { ADMIN_API_KEY: admin });
    try {
      const res = await request(strict.app.getHttpServer())
        .post('/v1/webhooks')
        .set(ADMIN)
        .send({ url: receiver.url });
      expect([res.status, res.body.code]).toEqual([403, 'WEBHOOK_URL_NOT_ALLOWED']);
    } finally {
      await strict.close();
    }
  });
});
