import { testEnv } from '../support/app';
import { DEMO_IMAGE, ensureDemoImage } from '../support/docker';
import { ServerProcess } from '../support/server-process';
import { WebhookReceiver } from '../support/webhook-receiver';

type Json = Record<string, any>;

async function call(server: ServerProcess, method: string, path: string, body?: object) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as Json };
}

async function until<T>(
  check: () => Promise<T | undefined> | T | undefined,
  ms = 60_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The event types a sandbox's history says it went through (what the log must hold, no more). */
function typesOfHistory(history: Json[]): string[] {
  const types = ['sandbox.created'];
  for (const entry of history) {
    if (entry.to === 'running') types.push('sandbox.running');
    else if (entry.to === 'deleted') types.push('sandbox.deleted');
    else if (entry.to === 'pending' && entry.event === 'restart') types.push('sandbox.restarted');
    else if (entry.to === 'stopped') {
      types.push(entry.event === 'startFailed' ? 'sandbox.failed' : 'sandbox.stopped');
    }
  }
  return types;
}

/** Deliveries of one sandbox's events that the receiver accepted, in arrival order. */
function acceptedFor(receiver: WebhookReceiver, sandboxId: string) {
  return receiver.accepted().filter((d) => d.body.data?.sandboxId === sandboxId);
}

describe('the outbox across kill -9 (embedded)', () => {
  let suite: Awaited<ReturnType<typeof testEnv>>;
  let receiver: WebhookReceiver;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    await ensureDemoImage();
    receiver = await WebhookReceiver.start();
    suite = await testEnv('embedded', {
      // Keeps retrying quickly while the receiver is down, long enough to outlive the kill.
      WEBHOOK_RETRY_SCHEDULE: Array.from({ length: 20 }, () => '300ms').join(','),
      WEBHOOK_TIMEOUT_SECONDS: '2',
    });
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.kill('SIGTERM')));
    await receiver?.close();
    await suite?.cleanup();
  });

  it('delivers each committed event once the restarted process runs, signed, in order, none invented', async () => {
    receiver.answer = 503;
    const a = await ServerProcess.start(suite.env);
    servers.push(a);
    const hook = await call(a, 'POST', '/v1/webhooks', { url: receiver.url });
    expect(hook.status).toBe(201);
    receiver.secret = hook.body.secret;

    const created = await call(a, 'POST', '/v1/sandboxes?wait=true', { image: DEMO_IMAGE });
    expect(created.status).toBe(200);
    const id = created.body.id as string;
    expect((await call(a, 'POST', `/v1/sandboxes/${id}/stop`)).status).toBe(200);
    // A second sandbox whose create is cut short by the kill: its events are whatever committed.
    const cut = await call(a, 'POST', '/v1/sandboxes', { image: DEMO_IMAGE });
    expect(cut.status).toBe(202);
    await a.kill('SIGKILL');
    // Nothing was accepted before the kill: every event is still owed.
    expect(receiver.accepted()).toHaveLength(0);

    receiver.answer = 200;
    const b = await ServerProcess.start(suite.env);
    servers.push(b);
    const cutId = cut.body.id as string;
    // Recovery at boot finishes (or fails) the interrupted create; wait for it to settle.
    const settled = await until(async () => {
      const res = await call(b, 'GET', `/v1/sandboxes/${cutId}`);
      return res.body.operation === null ? res.body : undefined;
    });
    for (const [sandboxId, expected] of [
      [id, ['sandbox.created', 'sandbox.running', 'sandbox.stopped']],
      [cutId, typesOfHistory(settled.stateHistory)],
    ] as const) {
      const got = await until(() => {
        const accepted = acceptedFor(receiver, sandboxId);
        return accepted.length >= expected.length ? accepted : undefined;
      });
      // Give a duplicate time to show up if there were one.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const final = acceptedFor(receiver, sandboxId);
      expect(final.map((d) => d.body.type)).toEqual(expected);
      expect(final.every((d) => d.verified)).toBe(true);
      expect(new Set(final.map((d) => d.id)).size).toBe(final.length);
      expect(got.map((d) => d.id)).toEqual(final.map((d) => d.id));
      // The log holds exactly what the history says happened: nothing lost, nothing invented.
      const log = await call(b, 'GET', `/v1/events?sandbox=${sandboxId}`);
      expect(log.body.items.map((e: Json) => e.type)).toEqual(expected);
    }
    // Every refused attempt before the kill was recorded and retried by the new process.
    const deliveries = await call(b, 'GET', `/v1/webhooks/${hook.body.id}/deliveries?limit=200`);
    const first = deliveries.body.items.find(
      (d: Json) => d.eventType === 'sandbox.created' && d.status === 'succeeded',
    );
    expect(first.attempts.at(-1)).toMatchObject({ statusCode: 200 });
    expect(first.attempts.slice(0, -1).every((a: Json) => a.statusCode === 503)).toBe(true);
    await call(b, 'DELETE', `/v1/sandboxes/${id}?force=true`);
    await call(b, 'DELETE', `/v1/sandboxes/${cutId}?force=true`);
  });
});

describe('two replicas on one PostgreSQL and Redis', () => {
  let suite: Awaited<ReturnType<typeof testEnv>>;
  let receiver: WebhookReceiver;
  let a: ServerProcess;
  let b: ServerProcess;

  beforeAll(async () => {
    await ensureDemoImage();
    receiver = await WebhookReceiver.start();
    suite = await testEnv('postgres+redis');
    [a, b] = await Promise.all([ServerProcess.start(suite.env), ServerProcess.start(suite.env)]);
  });

  afterAll(async () => {
    await Promise.all([a?.kill('SIGTERM'), b?.kill('SIGTERM')]);
    await receiver?.close();
    await suite?.cleanup();
  });

  it('streams on one replica the events another replica commits', async () => {
    const stream = await fetch(`${b.url}/v1/events?type=sandbox.created,sandbox.running`, {
      headers: { accept: 'text/event-stream' },
    });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    const created = await call(a, 'POST', '/v1/sandboxes?wait=true', { image: DEMO_IMAGE });
    const id = created.body.id as string;
    const seen: Json[] = [];
    let text = '';
    const decoder = new TextDecoder();
    while (seen.filter((e) => e.sandboxId === id).length < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      let end = text.indexOf('\n\n');
      while (end !== -1) {
        const data = text
          .slice(0, end)
          .split('\n')
          .find((line) => line.startsWith('data: '));
        if (data !== undefined) seen.push(JSON.parse(data.slice(6)));
        text = text.slice(end + 2);
        end = text.indexOf('\n\n');
      }
    }
    await reader.cancel();
    expect(seen.filter((e) => e.sandboxId === id).map((e) => e.type)).toEqual([
      'sandbox.created',
      'sandbox.running',
    ]);
    await call(a, 'DELETE', `/v1/sandboxes/${id}?force=true`);
  });

  it('delivers each event exactly once between them, and each streams every event', async () => {
    const hook = await call(a, 'POST', '/v1/webhooks', { url: receiver.url });
    receiver.secret = hook.body.secret;
    const created = await Promise.all(
      [a, b, a, b].map((server) =>
        call(server, 'POST', '/v1/sandboxes?wait=true', { image: DEMO_IMAGE }),
      ),
    );
    const ids = created.map((c) => c.body.id as string);
    await Promise.all(
      ids.map((id, i) => call(i % 2 === 0 ? b : a, 'POST', `/v1/sandboxes/${id}/stop`)),
    );
    for (const id of ids) {
      await until(() => (acceptedFor(receiver, id).length >= 3 ? true : undefined));
    }
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (const id of ids) {
      const got = acceptedFor(receiver, id);
      expect(got.map((d) => d.body.type)).toEqual([
        'sandbox.created',
        'sandbox.running',
        'sandbox.stopped',
      ]);
      expect(got.every((d) => d.verified)).toBe(true);
    }
    // One attempt per delivery, whichever replica made it.
    expect(receiver.received.filter((d) => ids.includes(d.body.data?.sandboxId))).toHaveLength(12);
    // Both replicas read the same log: each sees every sandbox's events, whoever committed them.
    for (const server of [a, b]) {
      for (const id of ids) {
        const log = await call(server, 'GET', `/v1/events?sandbox=${id}`);
        expect(log.body.items.map((e: Json) => e.type)).toEqual([
          'sandbox.created',
          'sandbox.running',
          'sandbox.stopped',
        ]);
      }
    }
    await Promise.all(ids.map((id) => call(a, 'DELETE', `/v1/sandboxes/${id}`)));
  });
});
