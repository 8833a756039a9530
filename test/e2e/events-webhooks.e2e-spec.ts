import { spawn } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { Backend, TestApp, createTestApp, eventually } from '../support/app';
import { DEMO_IMAGE, ensureDemoImage } from '../support/docker';
import { WebhookReceiver } from '../support/webhook-receiver';

/** The lifecycle a sandbox goes through in these tests, and the events it must produce. */
const LIFECYCLE_TYPES = [
  'sandbox.created',
  'sandbox.running',
  'sandbox.protection_changed',
  'sandbox.protection_changed',
  'sandbox.stopped',
  'sandbox.restarted',
  'sandbox.running',
  'sandbox.stopped',
  'sandbox.deleted',
];

async function runLifecycle(api: ReturnType<typeof request>): Promise<string> {
  const created = await api.post('/v1/sandboxes?wait=true').send({ image: DEMO_IMAGE }).expect(200);
  const id = created.body.id as string;
  await api.patch(`/v1/sandboxes/${id}`).send({ protected: true }).expect(200);
  await api.patch(`/v1/sandboxes/${id}`).send({ protected: false }).expect(200);
  await api.post(`/v1/sandboxes/${id}/stop`).expect(200);
  await api.post(`/v1/sandboxes/${id}/restart`).expect(200);
  await api.delete(`/v1/sandboxes/${id}?force=true`).expect(204);
  return id;
}

/** Reads an SSE stream until `count` events came (or the time is up), then hangs up. */
function readStream(
  url: string,
  headers: Record<string, string>,
  count: number,
  onOpen: () => void = () => undefined,
): Promise<{ id: string; type: string; data: any }[]> {
  return new Promise((resolve, reject) => {
    const events: { id: string; type: string; data: any }[] = [];
    const req = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`stream answered ${res.statusCode}`));
        return;
      }
      res.setEncoding('utf8');
      let buffer = '';
      let opened = false;
      res.on('data', (chunk: string) => {
        buffer += chunk;
        if (!opened) {
          opened = true;
          onOpen();
        }
        let end = buffer.indexOf('\n\n');
        while (end !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = Object.fromEntries(
            block
              .split('\n')
              .filter((line) => !line.startsWith(':') && line.includes(': '))
              .map((line) => [
                line.slice(0, line.indexOf(': ')),
                line.slice(line.indexOf(': ') + 2),
              ]),
          );
          if (fields.data !== undefined) {
            events.push({ id: fields.id, type: fields.event, data: JSON.parse(fields.data) });
            if (events.length >= count) {
              req.destroy();
              resolve(events);
              return;
            }
          }
          end = buffer.indexOf('\n\n');
        }
      });
    });
    req.on('error', (error) => (events.length >= count ? undefined : reject(error)));
    setTimeout(() => {
      req.destroy();
      resolve(events);
    }, 30_000).unref();
  });
}

describe.each<Backend>(['embedded', 'postgres+redis'])('events and webhooks (%s)', (backend) => {
  let t: TestApp;
  let api: ReturnType<typeof request>;
  let base: string;

  beforeAll(async () => {
    await ensureDemoImage();
    t = await createTestApp(backend, {
      WEBHOOK_RETRY_SCHEDULE: '1s,1s',
      WEBHOOK_TIMEOUT_SECONDS: '2',
    });
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    api = request(t.app.getHttpServer());
  });

  afterAll(async () => {
    await t?.close();
  });

  it('records one event per committed change, in order, with the actor and the sandbox', async () => {
    const id = await runLifecycle(api);
    const page = await api.get(`/v1/events?sandbox=${id}&limit=50`).expect(200);
    expect(page.body.items.map((e: any) => e.type)).toEqual(LIFECYCLE_TYPES);
    const ids = page.body.items.map((e: any) => Number(e.id));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(page.body.next).toBe(page.body.items.at(-1).id);
    for (const event of page.body.items) {
      expect(event).toMatchObject({ sandboxId: id, tenant: null, sandbox: { id } });
      expect(event.actor).toMatchObject({ kind: expect.any(String) });
      expect(event.sandbox).not.toHaveProperty('stateHistory');
    }
    const stops = page.body.items.filter((e: any) => e.type === 'sandbox.stopped');
    expect(stops.map((e: any) => e.reason)).toEqual(['manual', 'manual']);
    expect(page.body.items[2].sandbox.protected).toBe(true);
    expect(page.body.items[3].sandbox.protected).toBe(false);

    const onlyStops = await api
      .get(`/v1/events?sandbox=${id}&type=sandbox.stopped,sandbox.deleted`)
      .expect(200);
    expect(onlyStops.body.items.map((e: any) => e.type)).toEqual([
      'sandbox.stopped',
      'sandbox.stopped',
      'sandbox.deleted',
    ]);
    const after = await api.get(`/v1/events?sandbox=${id}&after=${ids[6]}`).expect(200);
    expect(after.body.items.map((e: any) => Number(e.id))).toEqual(ids.slice(7));
  });

  it('refuses a bad cursor, an unknown type or a bad limit with 400, never a 5xx', async () => {
    for (const query of [
      'after=abc',
      'after=-1',
      'after=1e5',
      'after=99999999999999999999',
      'type=sandbox.exploded',
      'type=sandbox.created,nope',
      'limit=0',
      'limit=501',
      'limit=ten',
      'sandbox=../etc',
      'unknown=1',
    ]) {
      const res = await api.get(`/v1/events?${query}`);
      expect([query, res.status, res.body.code]).toEqual([query, 400, 'VALIDATION_FAILED']);
    }
    const res = await api
      .get('/v1/events')
      .set('accept', 'text/event-stream')
      .set('last-event-id', 'not-an-id');
    expect(res.status).toBe(400);
  });

  it('streams live events and resumes from Last-Event-ID with nothing missed or repeated', async () => {
    let created: string | null = null;
    const first = readStream(`${base}/v1/events`, {}, 3, () => {
      void api
        .post('/v1/sandboxes?wait=true')
        .send({ image: DEMO_IMAGE })
        .then(async (res) => {
          created = res.body.id;
          await api.post(`/v1/sandboxes/${res.body.id}/stop`).expect(200);
          await api.delete(`/v1/sandboxes/${res.body.id}`).expect(204);
        });
    });
    const head = await first;
    expect(head.map((e) => e.type)).toEqual([
      'sandbox.created',
      'sandbox.running',
      'sandbox.stopped',
    ]);
    await eventually(() => Promise.resolve(created === null ? undefined : true));
    const rest = await readStream(
      `${base}/v1/events?sandbox=${created}`,
      { 'last-event-id': head[2].id },
      1,
    );
    expect(rest.map((e) => e.type)).toEqual(['sandbox.deleted']);
    expect(Number(rest[0].id)).toBeGreaterThan(Number(head[2].id));
    expect(rest[0].data).toMatchObject({ sandboxId: created, sandbox: { state: 'deleted' } });
  });

  it('is printed by sandboxctl events, and followed live with --follow', async () => {
    const cli = join(__dirname, '..', '..', 'dist', 'apps', 'sandboxctl', 'main.js');
    const created = await api
      .post('/v1/sandboxes?wait=true')
      .send({ image: DEMO_IMAGE })
      .expect(200);
    const id = created.body.id as string;
    const child = spawn(
      process.execPath,
      [cli, '--json', 'events', '--follow', '--sandbox', id, '--after', '0'],
      { env: { ...process.env, SANDBOXD_URL: base } },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    const lines = () => out.split('\n').filter((line) => line !== '');
    await eventually(() => Promise.resolve(lines().length >= 2 ? true : undefined));
    await api.post(`/v1/sandboxes/${id}/stop`).expect(200);
    await eventually(() => Promise.resolve(lines().length >= 3 ? true : undefined));
    child.kill('SIGINT');
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(status).toBe(0);
    expect(lines().map((line) => JSON.parse(line).type)).toEqual([
      'sandbox.created',
      'sandbox.running',
      'sandbox.stopped',
    ]);
    const table = await new Promise<string>((resolve) => {
      const once = spawn(process.execPath, [cli, 'events', '--sandbox', id], {
        env: { ...process.env, SANDBOXD_URL: base },
      });
      let text = '';
      once.stdout.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      once.on('close', () => resolve(text));
    });
    expect(table).toMatch(/stopped\s+.*manual/);
    await api.delete(`/v1/sandboxes/${id}`).expect(204);
  });

  describe('webhooks', () => {
    let receiver: WebhookReceiver;

    beforeAll(async () => {
      receiver = await WebhookReceiver.start();
    });
    afterAll(async () => {
      await receiver.close();
    });

    it('delivers every event signed per Standard Webhooks, in order, and shows the attempts', async () => {
      const hook = await api
        .post('/v1/webhooks')
        .send({ url: receiver.url, description: 'all events' })
        .expect(201);
      expect(hook.body).toMatchObject({ id: expect.stringMatching(/^wh_/), events: null });
      expect(hook.body.secret).toMatch(/^whsec_/);
      receiver.secret = hook.body.secret;
      const id = await runLifecycle(api);
      const mine = await eventually(() => {
        const got = receiver.accepted().filter((d) => d.body.data.sandboxId === id);
        return Promise.resolve(got.length >= LIFECYCLE_TYPES.length ? got : undefined);
      });
      expect(mine.map((d) => d.body.type)).toEqual(LIFECYCLE_TYPES);
      expect(mine.every((d) => d.verified)).toBe(true);
      expect(new Set(mine.map((d) => d.id)).size).toBe(mine.length);
      const listed = await api.get('/v1/webhooks').expect(200);
      expect(listed.body.items.map((w: any) => w.id)).toContain(hook.body.id);
      expect(JSON.stringify(listed.body)).not.toContain(hook.body.secret);
      const deliveries = await api.get(`/v1/webhooks/${hook.body.id}/deliveries`).expect(200);
      const done = deliveries.body.items.filter((d: any) => d.status === 'succeeded');
      expect(done.length).toBeGreaterThanOrEqual(LIFECYCLE_TYPES.length);
      expect(done[0].attempts).toEqual([
        expect.objectContaining({ attempt: 1, statusCode: 200, error: null }),
      ]);
      await api.delete(`/v1/webhooks/${hook.body.id}`).expect(204);
      await api.get(`/v1/webhooks/${hook.body.id}/deliveries`).expect(404);
    });

    it('filters by event type and sends a signed test on request', async () => {
      const hook = await api
        .post('/v1/webhooks')
        .send({ url: receiver.url, events: ['sandbox.deleted'] })
        .expect(201);
      receiver.secret = hook.body.secret;
      const test = await api.post(`/v1/webhooks/${hook.body.id}/test`).expect(202);
      expect(test.body.deliveryId).toEqual(expect.any(String));
      await eventually(() =>
        Promise.resolve(
          receiver.accepted().some((d) => d.body.type === 'webhook.test' && d.verified)
            ? true
            : undefined,
        ),
      );
      const id = await runLifecycle(api);
      await eventually(() =>
        Promise.resolve(
          receiver.accepted().some((d) => d.body.data.sandboxId === id) ? true : undefined,
        ),
      );
      const mine = receiver.accepted().filter((d) => d.body.data.sandboxId === id);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(mine.map((d) => d.body.type)).toEqual(['sandbox.deleted']);
      await api.delete(`/v1/webhooks/${hook.body.id}`).expect(204);
    });

    it('refuses bad registrations with 4xx, never a 5xx', async () => {
      const bad: [object, number][] = [
        [{ url: 'not a url' }, 400],
        [{ url: 'ftp://example.com/hook' }, 400],
        [{ url: 'file:///etc/passwd' }, 400],
        [{ url: 'javascript:alert(1)' }, 400],
        [{ url: 'http://user:pw@example.com/' }, 400],
        [{ url: `http://example.com/${'a'.repeat(2100)}` }, 400],
        [{ url: receiver.url, events: ['sandbox.exploded'] }, 400],
        [{ url: receiver.url, events: 'sandbox.created' }, 400],
        [{ url: receiver.url, description: 'x'.repeat(257) }, 400],
        [{ url: receiver.url, extra: true }, 400],
        [{}, 400],
        [{ url: 42 }, 400],
      ];
      for (const [body, status] of bad) {
        const res = await api.post('/v1/webhooks').send(body);
        expect([body, res.status]).toEqual([body, status]);
      }
      await api.delete('/v1/webhooks/wh_000000000000000000000000').expect(404);
      await api.delete('/v1/webhooks/../../etc').expect(404);
      await api.post('/v1/webhooks/nope/test').expect(400);
      await api.get('/v1/webhooks/wh_000000000000000000000000/deliveries?limit=0').expect(400);
    });
  });
});
