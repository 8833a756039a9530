import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import request from 'supertest';
import { LOADED_CONFIG, loadConfig } from '@app/config';
import type { Actor } from '@app/domain';
import { AppModule } from '../../apps/sandbox-api/src/app.module';
import { configureApp } from '../../apps/sandbox-api/src/configure-app';
import { eventually, testEnv } from '../support/app';
import { DEMO_IMAGE, ensureDemoImage } from '../support/docker';
import { WebhookReceiver } from '../support/webhook-receiver';

/** The header the stand-in for the auth guard reads (as in tenants.e2e-spec): `tenant:<name>`. */
const ACT_AS = 'x-test-actor';

function actAs(req: Request & { actor?: Actor }, _res: Response, next: NextFunction): void {
  const who = req.headers[ACT_AS];
  if (who === 'admin') req.actor = { kind: 'admin', tenant: null, keyId: 'key-admin' };
  else if (typeof who === 'string' && who.startsWith('tenant:')) {
    const tenant = who.slice('tenant:'.length);
    req.actor = { kind: 'tenant', tenant, keyId: `key-${tenant}` };
  }
  next();
}

describe('events and webhooks are scoped to the tenant key', () => {
  let app: NestExpressApplication;
  let cleanup: () => Promise<void>;
  let http: ReturnType<typeof request>;
  let receiver: WebhookReceiver;
  const A = { [ACT_AS]: 'tenant:team-a' };
  const B = { [ACT_AS]: 'tenant:team-b' };
  const ADMIN = { [ACT_AS]: 'admin' };

  beforeAll(async () => {
    await ensureDemoImage();
    receiver = await WebhookReceiver.start();
    const environment = await testEnv('embedded');
    cleanup = environment.cleanup;
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
      .overrideProvider(LOADED_CONFIG)
      .useValue(loadConfig(environment.env))
      .compile();
    app = moduleRef.createNestApplication<NestExpressApplication>({
      bodyParser: false,
      logger: ['error', 'warn'],
    });
    app.use(actAs);
    configureApp(app);
    await app.init();
    http = request(app.getHttpServer());
  });

  afterAll(async () => {
    await receiver?.close();
    await app?.close();
    await cleanup?.();
  });

  it("shows a tenant only its own tenant's events, in pages and in webhooks", async () => {
    const hook = await http.post('/v1/webhooks').set(A).send({ url: receiver.url }).expect(201);
    expect(hook.body.tenant).toBe('team-a');
    receiver.secret = hook.body.secret;
    const ours = await http
      .post('/v1/sandboxes?wait=true')
      .set(A)
      .send({ image: DEMO_IMAGE })
      .expect(200);
    const theirs = await http
      .post('/v1/sandboxes?wait=true')
      .set(B)
      .send({ image: DEMO_IMAGE })
      .expect(200);

    const seenByA = (await http.get('/v1/events?limit=500').set(A).expect(200)).body.items;
    expect(seenByA.map((e: any) => e.sandboxId)).toContain(ours.body.id);
    expect(seenByA.every((e: any) => e.tenant === 'team-a')).toBe(true);
    expect(seenByA[0]).toMatchObject({
      actor: { kind: 'tenant', tenant: 'team-a', keyId: 'key-team-a' },
      sandbox: { tenant: 'team-a' },
    });
    const filtered = await http.get(`/v1/events?sandbox=${theirs.body.id}`).set(A).expect(200);
    expect(filtered.body.items).toEqual([]);
    const seenByAdmin = (await http.get('/v1/events?limit=500').set(ADMIN).expect(200)).body.items;
    expect(seenByAdmin.map((e: any) => e.sandboxId)).toEqual(
      expect.arrayContaining([ours.body.id, theirs.body.id]),
    );

    await eventually(() => Promise.resolve(receiver.accepted().length >= 2 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const delivered = receiver.accepted().map((d) => d.body.data.sandboxId);
    expect(new Set(delivered)).toEqual(new Set([ours.body.id]));
    expect(receiver.accepted().every((d) => d.verified)).toBe(true);

    // Another tenant neither sees nor touches the webhook.
    const listedByB = await http.get('/v1/webhooks').set(B).expect(200);
    expect(listedByB.body.items).toEqual([]);
    await http.delete(`/v1/webhooks/${hook.body.id}`).set(B).expect(404);
    await http.get(`/v1/webhooks/${hook.body.id}/deliveries`).set(B).expect(404);
    await http.post(`/v1/webhooks/${hook.body.id}/test`).set(B).expect(404);
    await http.delete(`/v1/webhooks/${hook.body.id}`).set(A).expect(204);
    await http.delete(`/v1/sandboxes/${ours.body.id}?force=true`).set(A).expect(204);
    await http.delete(`/v1/sandboxes/${theirs.body.id}?force=true`).set(B).expect(204);
  });
});
