import { testEnv } from '../support/app';
import { DEMO_IMAGE, ensureDemoImage, testDocker } from '../support/docker';
import { ServerProcess } from '../support/server-process';
import { newAdminKey } from '../support/api-keys';

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

/** Polls a GET until the predicate holds. */
async function until(server: ServerProcess, id: string, ok: (s: Json) => boolean, ms = 30_000) {
  const deadline = Date.now() + ms;
  let last: Json = {};
  while (Date.now() < deadline) {
    const res = await call(server, 'GET', `/v1/sandboxes/${id}`);
    last = res.body;
    if (res.status === 200 && ok(res.body)) return res.body;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`sandbox ${id} never matched; last: ${JSON.stringify(last)}`);
}

async function containersOf(sandboxId: string) {
  return testDocker().listContainers({
    all: true,
    filters: { label: [`io.sandboxd.sandbox-id=${sandboxId}`] },
  });
}

/** The container agrees with the record: running ⇔ running, stopped ⇔ exited, deleted ⇔ gone. */
async function expectDockerMatches(view: Json) {
  const containers = await containersOf(view.id);
  if (view.state === 'deleted') {
    expect(containers).toHaveLength(0);
  } else {
    expect(containers).toHaveLength(1);
    expect(containers[0].Id).toBe(view.containerId);
    expect(containers[0].State === 'running').toBe(view.state === 'running');
  }
}

/** Each history entry starts where the previous one ended. */
function expectContinuousHistory(view: Json) {
  const history = view.stateHistory as Json[];
  for (let i = 1; i < history.length; i += 1) expect(history[i].from).toBe(history[i - 1].to);
  if (history.length > 0) expect(history.at(-1)!.to).toBe(view.state);
}

describe('two API processes on one PostgreSQL and Redis', () => {
  let suite: Awaited<ReturnType<typeof testEnv>>;
  let a: ServerProcess;
  let b: ServerProcess;

  beforeAll(async () => {
    await ensureDemoImage();
    suite = await testEnv('postgres+redis');
    [a, b] = await Promise.all([ServerProcess.start(suite.env), ServerProcess.start(suite.env)]);
  });

  afterAll(async () => {
    await Promise.all([a?.kill('SIGTERM'), b?.kill('SIGTERM')]);
    await suite?.cleanup();
  });

  it('should serialise racing stop, restart and delete: consistent states, no 5xx, no leaks', async () => {
    const created = await Promise.all(
      [0, 1, 2, 3].map(() => call(a, 'POST', '/v1/sandboxes?wait=true', { image: DEMO_IMAGE })),
    );
    const ids = created.map((c) => {
      expect(c.status).toBe(200);
      return c.body.id as string;
    });

    const statuses: number[] = [];
    const plan: [ServerProcess, string, string][] = [];
    for (const id of ids) {
      plan.push(
        [a, 'POST', `/v1/sandboxes/${id}/stop`],
        [b, 'POST', `/v1/sandboxes/${id}/restart`],
        [b, 'POST', `/v1/sandboxes/${id}/stop`],
        [a, 'POST', `/v1/sandboxes/${id}/restart`],
      );
      // Half of them also get a forced delete from either side.
      if (ids.indexOf(id) % 2 === 0) plan.push([b, 'DELETE', `/v1/sandboxes/${id}?force=true`]);
    }
    await Promise.all(
      plan.map(async ([server, method, path]) => {
        const res = await call(server, method, path);
        statuses.push(res.status);
        if (res.status === 409) {
          expect(['INVALID_TRANSITION', 'SANDBOX_BUSY']).toContain(res.body.code);
        }
      }),
    );
    expect(statuses.every((s) => s < 500)).toBe(true);
    expect(statuses.every((s) => [200, 204, 409].includes(s))).toBe(true);

    for (const id of ids) {
      const viewA = (await call(a, 'GET', `/v1/sandboxes/${id}`)).body;
      const viewB = (await call(b, 'GET', `/v1/sandboxes/${id}`)).body;
      expect(viewA.operation).toBeNull();
      expect(viewB).toEqual(viewA);
      if (ids.indexOf(id) % 2 === 0) expect(viewA.state).toBe('deleted');
      expectContinuousHistory(viewA);
      await expectDockerMatches(viewA);
    }
    expect(a.logs()).not.toMatch(/\bERROR\b/);
    expect(b.logs()).not.toMatch(/\bERROR\b/);

    for (const id of ids) {
      expect((await call(a, 'DELETE', `/v1/sandboxes/${id}?force=true`)).status).toBe(204);
    }
  });
});

describe('a process killed with SIGKILL during create', () => {
  let suite: Awaited<ReturnType<typeof testEnv>>;

  beforeAll(async () => {
    await ensureDemoImage();
    suite = await testEnv('postgres+redis', { LOCK_TTL_SECONDS: '3' });
  });

  afterAll(async () => {
    await suite?.cleanup();
  });

  it('should finish the interrupted creates on the next start and leak no container', async () => {
    const first = await ServerProcess.start(suite.env);
    const accepted = await Promise.all(
      [0, 1, 2].map(() => call(first, 'POST', '/v1/sandboxes', { image: DEMO_IMAGE })),
    );
    await first.kill('SIGKILL');
    const ids = accepted.map((r) => {
      expect(r.status).toBe(202);
      return r.body.id as string;
    });

    const second = await ServerProcess.start(suite.env);
    try {
      for (const id of ids) {
        const view = await until(second, id, (s) => s.operation === null, 60_000);
        expect(view.state).toBe('running');
        expectContinuousHistory(view);
        await expectDockerMatches(view);
      }
      expect(second.logs()).toMatch(/recover/i);
      for (const id of ids) {
        expect((await call(second, 'DELETE', `/v1/sandboxes/${id}?force=true`)).status).toBe(204);
        expect(await containersOf(id)).toHaveLength(0);
      }
    } finally {
      await second.kill('SIGTERM');
    }
  });
});

describe('two API processes running the scheduler', () => {
  let suite: Awaited<ReturnType<typeof testEnv>>;
  let a: ServerProcess;
  let b: ServerProcess;

  beforeAll(async () => {
    await ensureDemoImage();
    suite = await testEnv('postgres+redis', {
      SCHEDULER_INTERVAL_SECONDS: '1',
      RECONCILE_INTERVAL_SECONDS: '2',
      STOP_TIMEOUT_SECONDS: '1',
    });
    [a, b] = await Promise.all([ServerProcess.start(suite.env), ServerProcess.start(suite.env)]);
  });

  afterAll(async () => {
    await Promise.all([a?.kill('SIGTERM'), b?.kill('SIGTERM')]);
    await suite?.cleanup();
  });

  it('should stop and delete every due sandbox exactly once, without errors', async () => {
    const created = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((i) =>
        call(i % 2 ? a : b, 'POST', '/v1/sandboxes?wait=true', {
          image: DEMO_IMAGE,
          idleTimeoutSeconds: 1,
          autoDeleteSeconds: 1,
        }),
      ),
    );
    const ids = created.map((c) => c.body.id as string);
    for (const id of ids) {
      const view = await until(b, id, (s) => s.state === 'deleted', 30_000);
      const moves = (view.stateHistory as Json[]).map((h) => `${h.from}>${h.to}:${h.reason ?? ''}`);
      expect(moves).toEqual([
        'pending>running:',
        'running>stopped:idle-timeout',
        'stopped>deleted:auto-delete',
      ]);
      expect(await containersOf(id)).toHaveLength(0);
    }
    const logs = a.logs() + b.logs();
    for (const id of ids) {
      expect(logs.split(`sandbox ${id} stopped: idle-timeout`).length - 1).toBe(1);
      expect(logs.split(`sandbox ${id} deleted: auto-delete`).length - 1).toBe(1);
    }
    expect(logs).not.toMatch(/\bERROR\b/);
  });
});

describe('two API processes admitting bursts of creates on one PostgreSQL and Redis', () => {
  const admin = newAdminKey();
  const ADMIN = { authorization: `Bearer ${admin}` };
  let suite: Awaited<ReturnType<typeof testEnv>>;
  let a: ServerProcess;
  let b: ServerProcess;
  let tenantKey: Record<string, string>;

  async function as(
    server: ServerProcess,
    headers: Record<string, string>,
    method: string,
    path: string,
    body?: object,
  ) {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as Json };
  }

  /** `count` creates at once, alternating between the two processes; the answers. */
  async function burst(headers: Record<string, string>, count: number, body: object) {
    return Promise.all(
      Array.from({ length: count }, (_, i) =>
        as(i % 2 === 0 ? a : b, headers, 'POST', '/v1/sandboxes', { image: DEMO_IMAGE, ...body }),
      ),
    );
  }

  async function deleteAll(answers: { status: number; body: Json }[]) {
    for (const answer of answers.filter((x) => x.status < 300)) {
      const res = await as(a, ADMIN, 'DELETE', `/v1/sandboxes/${answer.body.id}?force=true`);
      expect(res.status).toBe(204);
    }
  }

  beforeAll(async () => {
    await ensureDemoImage();
    // This engine's CPUs × 3 is the host capacity: a burst of 1-CPU creates fills it exactly.
    suite = await testEnv('postgres+redis', {
      ADMIN_API_KEY: admin,
      OVERCOMMIT_CPU: '3',
      AUTO_DELETE_AFTER_SECONDS: '-1',
    });
    [a, b] = await Promise.all([ServerProcess.start(suite.env), ServerProcess.start(suite.env)]);
    const made = await as(a, ADMIN, 'POST', '/v1/admin/api-keys', {
      tenant: 'team-burst',
      name: 'admission e2e',
    });
    expect(made.status).toBe(201);
    tenantKey = { authorization: `Bearer ${made.body.key as string}` };
  });

  afterAll(async () => {
    await Promise.all([a?.kill('SIGTERM'), b?.kill('SIGTERM')]);
    await suite?.cleanup();
  });

  it("should never pass a tenant's limit, with its creates split over both", async () => {
    const limits = await as(b, ADMIN, 'PUT', '/v1/admin/tenants/team-burst/limits', {
      maxSandboxes: 3,
    });
    expect(limits.status).toBe(200);

    const answers = await burst(tenantKey, 12, { cpus: 0.25, memory: '32m' });

    expect(answers.filter((x) => x.status < 300)).toHaveLength(3);
    const refused = answers.filter((x) => x.status >= 300);
    expect(refused.map((x) => [x.status, x.body.code])).toEqual(
      Array(9).fill([429, 'TENANT_QUOTA_EXCEEDED']),
    );
    const shown = await as(a, ADMIN, 'GET', '/v1/admin/tenants/team-burst');
    expect(shown.body.usage).toMatchObject({ sandboxes: 3, cpus: 0.75 });
    await deleteAll(answers);
  });

  it('should never pass the host capacity, with the creates split over both', async () => {
    const capacity = (await testDocker().info()).NCPU * 3;

    const answers = await burst(ADMIN, capacity + 8, { cpus: 1, memory: '32m' });

    expect(answers.filter((x) => x.status < 300)).toHaveLength(capacity);
    const refused = answers.filter((x) => x.status >= 300);
    expect(refused.map((x) => [x.status, x.body.code])).toEqual(
      Array(8).fill([429, 'INSUFFICIENT_CAPACITY']),
    );
    expect(refused[0].body.details).toMatchObject({
      committedCpus: capacity,
      capacityCpus: capacity,
    });
    // The counters agree with the rows: the reconcile report shows no usage drift.
    const report = await as(b, ADMIN, 'GET', '/v1/admin/reconcile');
    expect(report.status).toBe(200);
    expect((report.body.drift as Json[]).filter((d) => d.kind === 'usage-drift')).toEqual([]);
    await deleteAll(answers);
    expect(a.logs()).not.toMatch(/\bERROR\b/);
    expect(b.logs()).not.toMatch(/\bERROR\b/);
  });
});
