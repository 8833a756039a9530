import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { ANONYMOUS_ACTOR, CodedError, isCodedError, SYSTEM_ACTOR } from '@app/domain';
import type { Actor, SandboxInfo } from '@app/domain';
import { RedisKeyValueStore, aliveKey } from '@app/meta-store';
import type { CreateSandboxInput } from '@app/sandbox';
import { TEST_REDIS_URL, deleteKeysWithPrefix } from '../meta-store/meta-store-support';
import { Harness, bootHarness, containerState, postgresBacking, sqliteBacking } from './support';

const TEAM_A: Actor = { kind: 'tenant', tenant: 'team-a', keyId: 'key-a' };
const TEAM_B: Actor = { kind: 'tenant', tenant: 'team-b', keyId: 'key-b' };
const ADMIN: Actor = { kind: 'admin', tenant: null, keyId: 'key-admin' };
const GiB = 1024 ** 3;
const ENV = { AUTO_DELETE_AFTER_SECONDS: '-1' };

/** The code of the CodedError a promise rejects with (fails the test on anything else). */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection, but the call succeeded');
    },
    (e: unknown) => e,
  );
  if (!isCodedError(error)) throw error;
  return error.code;
}

async function outcomeOf(create: Promise<SandboxInfo>): Promise<SandboxInfo | CodedError> {
  try {
    return await create;
  } catch (error) {
    if (isCodedError(error)) return error;
    throw error;
  }
}

function codes(outcomes: (SandboxInfo | CodedError)[]): string[] {
  return outcomes.filter((o): o is CodedError => o instanceof CodedError).map((e) => e.code);
}

/** Restarts find the stopped container (named as the harness names them) and start it. */
function stubRestarts(h: Harness): void {
  const sandboxOf = (containerId: string) => containerId.replace(/^ctr-/, '');
  h.deployment.inspect.mockImplementation((containerId: string) =>
    Promise.resolve(containerState(sandboxOf(containerId), { running: false, status: 'exited' })),
  );
  h.deployment.start.mockImplementation((containerId: string) =>
    Promise.resolve(containerState(sandboxOf(containerId))),
  );
}

function created(outcomes: (SandboxInfo | CodedError)[]): SandboxInfo[] {
  return outcomes.filter((o): o is SandboxInfo => !(o instanceof CodedError));
}

describe('tenant scoping on the real store', () => {
  let h: Harness;

  beforeEach(async () => {
    h = await bootHarness({ env: ENV });
  });

  afterEach(async () => {
    await h.close();
  });

  it("stamps a create with its tenant key's tenant; the admin's and auth-off creates have none", async () => {
    const a = await h.createRunning({}, TEAM_A);
    const admin = await h.createRunning({}, ADMIN);
    const anonymous = await h.createRunning({}, ANONYMOUS_ACTOR);

    expect(a.tenant).toBe('team-a');
    expect((await h.info(a.id)).tenant).toBe('team-a');
    expect(admin.tenant).toBeNull();
    expect(anonymous.tenant).toBeNull();
    expect(a.stateHistory.at(-1)).toMatchObject({ event: 'started', actor: TEAM_A });
  });

  it("answers SANDBOX_NOT_FOUND for every read and command on another tenant's sandbox, changing nothing", async () => {
    const a = await h.createRunning({ name: 'web' }, TEAM_A);
    const before = await h.info(a.id);
    const attempts: [string, () => Promise<unknown>][] = [
      ['get', () => h.sandboxes.get(TEAM_B, a.id)],
      ['stop', () => h.sandboxes.stop(TEAM_B, a.id)],
      ['restart', () => h.sandboxes.restart(TEAM_B, a.id)],
      ['delete', () => h.sandboxes.delete(TEAM_B, a.id, false)],
      ['force delete', () => h.sandboxes.delete(TEAM_B, a.id, true)],
      ['keepalive', () => h.sandboxes.keepAlive(TEAM_B, a.id)],
      ['protect', () => h.sandboxes.setProtected(TEAM_B, a.id, true)],
      ['max lifetime', () => h.sandboxes.setMaxLifetime(TEAM_B, a.id, 60)],
      ['env', () => h.sandboxes.envOf(TEAM_B, a.id)],
      ['exec', () => h.work.exec(TEAM_B, a.id, { command: 'id' })],
      ['exec stream', () => h.work.execStream(TEAM_B, a.id, { command: 'id' })],
      ['read', () => h.work.read(TEAM_B, a.id, '/etc/hostname')],
      ['stat', () => h.work.stat(TEAM_B, a.id, '/etc/hostname')],
      ['write', () => h.work.writeFile(TEAM_B, a.id, '/tmp/x', Readable.from([Buffer.from('x')]))],
      ['delete file', () => h.work.deleteFile(TEAM_B, a.id, '/tmp/x')],
      ['ports', () => h.work.ports(TEAM_B, a.id)],
    ];
    for (const [what, attempt] of attempts) {
      expect([what, await codeOf(attempt())]).toEqual([what, 'SANDBOX_NOT_FOUND']);
    }
    // By name: team-b has no sandbox called web, whoever else does.
    expect(await codeOf(h.sandboxes.get(TEAM_B, 'web'))).toBe('SANDBOX_NOT_FOUND');
    expect(await codeOf(h.sandboxes.stop(TEAM_B, 'web'))).toBe('SANDBOX_NOT_FOUND');
    expect(await codeOf(h.work.exec(TEAM_B, 'web', { command: 'id' }))).toBe('SANDBOX_NOT_FOUND');
    // The refusal is the one a sandbox that never existed gets, word for word but the id.
    const missing = '0000000000000000000000000';
    const messageOf = (p: Promise<unknown>) =>
      p.then(
        () => '',
        (e: CodedError) => e.message,
      );
    const refused = await messageOf(h.sandboxes.get(TEAM_B, a.id));
    const absent = await messageOf(h.sandboxes.get(TEAM_B, missing));
    expect(refused.replace(a.id, missing)).toBe(absent);

    // Best-effort activity from the other tenant is dropped too.
    await h.sandboxes.recordActivity(TEAM_B, a.id);
    const after = await h.info(a.id);
    expect(after).toEqual(before);
    // No engine call was made for team-b (the mocks are strict: an unstubbed exec would throw).
    expect(h.deployment.stop).not.toHaveBeenCalled();
    expect(h.deployment.remove).not.toHaveBeenCalled();
  });

  it('lets the owner, the admin and an auth-off caller reach the sandbox by id', async () => {
    const a = await h.createRunning({ name: 'web' }, TEAM_A);
    stubRestarts(h);

    expect((await h.sandboxes.get(TEAM_A, a.id)).id).toBe(a.id);
    expect((await h.sandboxes.get(TEAM_A, 'web')).id).toBe(a.id);
    expect((await h.sandboxes.get(ADMIN, a.id)).id).toBe(a.id);
    expect((await h.sandboxes.keepAlive(TEAM_A, 'web')).id).toBe(a.id);
    const stopped = await h.sandboxes.stop(ADMIN, a.id);
    expect(stopped.stateHistory.at(-1)).toMatchObject({ event: 'stop', actor: ADMIN });
    const restarted = await h.sandboxes.restart(TEAM_A, 'web');
    expect(restarted.stateHistory.at(-2)).toMatchObject({ event: 'restart', actor: TEAM_A });
    expect((await h.sandboxes.setProtected(ANONYMOUS_ACTOR, a.id, true)).protected).toBe(true);
  });

  it("resolves names in the caller's namespace: the admin's is the tenant-less sandboxes", async () => {
    const a = await h.createRunning({ name: 'web' }, TEAM_A);
    expect(await codeOf(h.sandboxes.get(ADMIN, 'web'))).toBe('SANDBOX_NOT_FOUND');
    const own = await h.createRunning({ name: 'web' }, ADMIN);

    expect((await h.sandboxes.get(ADMIN, 'web')).id).toBe(own.id);
    expect((await h.sandboxes.get(ANONYMOUS_ACTOR, 'web')).id).toBe(own.id);
    expect((await h.sandboxes.get(TEAM_A, 'web')).id).toBe(a.id);
  });

  it('keeps names unique per tenant, and a name another tenant holds neither refused nor revealed', async () => {
    const a = await h.createRunning({ name: 'web' }, TEAM_A);
    const b = await h.createRunning({ name: 'web' }, TEAM_B);
    expect(b.id).not.toBe(a.id);
    expect(await codeOf(h.createRunning({ name: 'web' }, TEAM_A))).toBe('NAME_CONFLICT');
    expect(await codeOf(h.createRunning({ name: 'web' }, TEAM_B))).toBe('NAME_CONFLICT');

    // Concurrent creates of one name in one tenant: one wins, whatever the other tenants do.
    const outcomes = await Promise.all(
      [TEAM_A, TEAM_A, TEAM_A, TEAM_B].map((actor) =>
        outcomeOf(h.createRunning({ name: 'api' }, actor)),
      ),
    );
    expect(created(outcomes).map((s) => s.tenant)).toEqual(['team-a', 'team-b']);
    expect(codes(outcomes)).toEqual(['NAME_CONFLICT', 'NAME_CONFLICT']);
  });

  it("keeps each tenant's Idempotency-Keys its own: no replay of, and no conflict with, another tenant's", async () => {
    const input: CreateSandboxInput = { image: 'sandboxd/demo:latest' };
    const first = await h.sandboxes.create(TEAM_A, input, { idempotencyKey: 'k1', wait: true });
    const replay = await h.sandboxes.create(TEAM_A, input, { idempotencyKey: 'k1', wait: true });
    expect(replay).toMatchObject({ created: false, sandbox: { id: first.sandbox.id } });

    const other = await h.sandboxes.create(TEAM_B, input, { idempotencyKey: 'k1', wait: true });
    expect(other.created).toBe(true);
    expect(other.sandbox).toMatchObject({ tenant: 'team-b' });
    expect(other.sandbox.id).not.toBe(first.sandbox.id);
    const otherBody = await h.sandboxes.create(
      TEAM_B,
      { ...input, labels: { x: 'y' } },
      { idempotencyKey: 'k2', wait: true },
    );
    expect(otherBody.created).toBe(true);
    // The admin's keys are another namespace again (and stored as sent, as before tenants).
    const admin = await h.sandboxes.create(ADMIN, input, { idempotencyKey: 'k1', wait: true });
    expect(admin.created).toBe(true);
    expect(
      await codeOf(h.sandboxes.create(ADMIN, { image: 'x' }, { idempotencyKey: 'k1', wait: true })),
    ).toBe('IDEMPOTENCY_CONFLICT');
  });

  it('lists only the caller tenant’s sandboxes; the admin sees all and filters by tenant', async () => {
    const a1 = await h.createRunning({}, TEAM_A);
    const a2 = await h.createRunning({}, TEAM_A);
    const b1 = await h.createRunning({}, TEAM_B);
    const n1 = await h.createRunning({}, ADMIN);
    const ids = async (actor: Actor, tenant?: string | null) =>
      (await h.sandboxes.list(actor, { tenant, limit: 100 })).items.map((s) => s.id);

    expect(await ids(TEAM_A)).toEqual([a1.id, a2.id]);
    expect(await ids(TEAM_A, 'team-a')).toEqual([a1.id, a2.id]);
    expect(await ids(TEAM_A, 'team-b')).toEqual([]);
    expect(await ids(TEAM_A, null)).toEqual([]);
    expect(await ids(TEAM_B)).toEqual([b1.id]);
    expect(await ids(ADMIN)).toEqual([a1.id, a2.id, b1.id, n1.id]);
    expect(await ids(ANONYMOUS_ACTOR)).toEqual([a1.id, a2.id, b1.id, n1.id]);
    expect(await ids(ADMIN, 'team-a')).toEqual([a1.id, a2.id]);
    expect(await ids(ADMIN, null)).toEqual([n1.id]);
    expect(await ids(ADMIN, 'team-c')).toEqual([]);

    // Pages of one tenant's sandboxes: the cursor moves within the tenant.
    const page = await h.sandboxes.list(TEAM_A, { limit: 1 });
    expect(page.items.map((s) => s.id)).toEqual([a1.id]);
    const next = await h.sandboxes.list(TEAM_A, { limit: 1, cursor: page.nextCursor! });
    expect(next.items.map((s) => s.id)).toEqual([a2.id]);
    expect(next.nextCursor).toBeNull();
  });

  it("runs the scheduler's deadlines on every tenant's sandboxes, as sandboxd itself", async () => {
    const a = await h.createRunning({ idleTimeoutSeconds: 1 }, TEAM_A);
    await h.automation.autoStopDue(new Date(Date.now() + 5_000));
    const info = await h.info(a.id);
    expect(info.state).toBe('stopped');
    expect(info.stateHistory.at(-1)).toMatchObject({ reason: 'idle-timeout', actor: SYSTEM_ACTOR });
  });

  it('reads a cached entry written before tenants as a miss, and answers from the database', async () => {
    const a = await h.createRunning({}, TEAM_A);
    const old: Record<string, unknown> = { ...(await h.info(a.id)) };
    delete old.tenant;
    await h.kv.set(aliveKey(a.id), JSON.stringify(old));

    expect((await h.sandboxes.get(TEAM_A, a.id)).tenant).toBe('team-a');
    expect(await codeOf(h.sandboxes.get(TEAM_B, a.id))).toBe('SANDBOX_NOT_FOUND');
    expect(await h.kv.get(aliveKey(a.id))).toBeNull();
  });
});

describe('tenant limits on the real store', () => {
  let h: Harness;

  beforeEach(async () => {
    h = await bootHarness({ env: ENV });
  });

  afterEach(async () => {
    await h.close();
  });

  it('refuses a create beyond maxSandboxes with TENANT_QUOTA_EXCEEDED, counting stopped ones until deleted', async () => {
    await h.tenants.setLimits(ADMIN, 'team-a', { maxSandboxes: 2 });
    stubRestarts(h);
    const first = await h.createRunning({}, TEAM_A);
    await h.createRunning({}, TEAM_A);

    const refused = await outcomeOf(h.createRunning({ name: 'third' }, TEAM_A));
    expect(refused).toMatchObject({
      code: 'TENANT_QUOTA_EXCEEDED',
      details: { tenant: 'team-a', limit: 'maxSandboxes', max: 2, current: 2, requested: 1 },
    });
    expect(await h.store.load('third', 'team-a')).toBeNull();
    // Other tenants and the admin are not limited by team-a's limits.
    await h.createRunning({}, TEAM_B);
    await h.createRunning({}, ADMIN);

    // A stopped sandbox keeps its share (a restart takes it back without asking)...
    await h.sandboxes.stop(TEAM_A, first.id);
    expect(await codeOf(h.createRunning({}, TEAM_A))).toBe('TENANT_QUOTA_EXCEEDED');
    expect((await h.sandboxes.restart(TEAM_A, first.id)).state).toBe('running');
    // ...until it is deleted.
    await h.sandboxes.delete(TEAM_A, first.id, true);
    expect((await h.createRunning({}, TEAM_A)).tenant).toBe('team-a');
  });

  it('refuses by maxCpus and maxMemory, and a limit cleared with null stops refusing', async () => {
    await h.tenants.setLimits(ADMIN, 'team-a', { maxCpus: 2, maxMemoryBytes: 2 * GiB });
    await h.createRunning({ cpus: 1.5, memory: '1g' }, TEAM_A);

    expect(await outcomeOf(h.createRunning({ cpus: 1, memory: '512m' }, TEAM_A))).toMatchObject({
      code: 'TENANT_QUOTA_EXCEEDED',
      details: { limit: 'maxCpus', max: 2, current: 1.5, requested: 1 },
    });
    expect(await outcomeOf(h.createRunning({ cpus: 0.5, memory: '2g' }, TEAM_A))).toMatchObject({
      code: 'TENANT_QUOTA_EXCEEDED',
      details: { limit: 'maxMemory', max: 2 * GiB, current: GiB, requested: 2 * GiB },
    });
    await h.createRunning({ cpus: 0.5, memory: '1g' }, TEAM_A);

    const report = await h.tenants.setLimits(ADMIN, 'team-a', { maxCpus: null });
    expect(report.limits).toEqual({ maxSandboxes: null, maxCpus: null, maxMemoryBytes: 2 * GiB });
    expect(report.usage).toEqual({ sandboxes: 2, liveSandboxes: 2, cpus: 2, memoryBytes: 2 * GiB });
    await h.tenants.setLimits(ADMIN, 'team-a', { maxMemoryBytes: null });
    expect((await h.createRunning({ cpus: 4, memory: '4g' }, TEAM_A)).state).toBe('running');
  });

  it('reports limits and usage to the admin only, and lets no tenant set them', async () => {
    await h.createRunning({ cpus: 1, memory: '1g' }, TEAM_A);
    const stopped = await h.createRunning({ cpus: 2, memory: '2g' }, TEAM_A);
    await h.sandboxes.stop(TEAM_A, stopped.id);
    const gone = await h.createRunning({ cpus: 4, memory: '4g' }, TEAM_A);
    await h.sandboxes.delete(TEAM_A, gone.id, true);

    expect(await h.tenants.describe(ADMIN, 'team-a')).toEqual({
      tenant: 'team-a',
      limits: { maxSandboxes: null, maxCpus: null, maxMemoryBytes: null },
      limitsUpdatedAt: null,
      usage: { sandboxes: 2, liveSandboxes: 1, cpus: 3, memoryBytes: 3 * GiB },
    });
    expect(await codeOf(h.tenants.describe(TEAM_A, 'team-a'))).toBe('FORBIDDEN');
    expect(await codeOf(h.tenants.setLimits(TEAM_A, 'team-a', { maxSandboxes: 100 }))).toBe(
      'FORBIDDEN',
    );
    expect((await h.limits.get('team-a')).updatedAt).toBeNull();
    // Absent limits are kept, null clears one.
    await h.tenants.setLimits(ADMIN, 'team-a', { maxSandboxes: 5, maxCpus: 8 });
    const kept = await h.tenants.setLimits(ANONYMOUS_ACTOR, 'team-a', { maxCpus: null });
    expect(kept.limits).toEqual({ maxSandboxes: 5, maxCpus: null, maxMemoryBytes: null });
    expect(kept.limitsUpdatedAt).not.toBeNull();
  });

  it('refuses bad limits and tenant names, naming the field', async () => {
    const fieldsOf = async (promise: Promise<unknown>) =>
      ((await promise.catch((e: CodedError) => e)) as CodedError).details?.fields;
    expect(
      await fieldsOf(h.tenants.setLimits(ADMIN, 'team-a', { maxSandboxes: -1 })),
    ).toHaveProperty('maxSandboxes');
    expect(
      await fieldsOf(h.tenants.setLimits(ADMIN, 'team-a', { maxSandboxes: 1.5 })),
    ).toHaveProperty('maxSandboxes');
    expect(
      await fieldsOf(h.tenants.setLimits(ADMIN, 'team-a', { maxCpus: Number.NaN })),
    ).toHaveProperty('maxCpus');
    expect(
      await fieldsOf(h.tenants.setLimits(ADMIN, 'team-a', { maxMemoryBytes: -5 })),
    ).toHaveProperty('maxMemory');
    for (const name of ['', 'Team-A', '-x', 'a/b', 'x'.repeat(65)]) {
      expect(await fieldsOf(h.tenants.describe(ADMIN, name))).toHaveProperty('tenant');
    }
  });

  it('lets concurrent creates of one tenant never pass its limit', async () => {
    await h.tenants.setLimits(ADMIN, 'team-a', { maxSandboxes: 3 });
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, () => outcomeOf(h.createRunning({}, TEAM_A))),
    );

    expect(created(outcomes)).toHaveLength(3);
    expect(codes(outcomes)).toEqual(Array(5).fill('TENANT_QUOTA_EXCEEDED'));
    expect((await h.tenants.describe(ADMIN, 'team-a')).usage.sandboxes).toBe(3);
  });
});

/**
 * Two processes ("replicas") on one store, each with its own SandboxService, both admitting
 * creates of the same tenant at once: the tenant's limit and the host's capacity hold together.
 */
async function expectTwoContenders(a: Harness, b: Harness): Promise<void> {
  await a.tenants.setLimits(ADMIN, 'team-a', { maxSandboxes: 4, maxCpus: 3 });
  const creates = [a, b, a, b, a, b, a, b].map((h) =>
    outcomeOf(h.createRunning({ cpus: 1, memory: '256m' }, TEAM_A)),
  );
  const outcomes = await Promise.all(creates);

  expect(created(outcomes)).toHaveLength(3);
  expect(codes(outcomes)).toEqual(Array(5).fill('TENANT_QUOTA_EXCEEDED'));
  expect(await b.tenants.describe(ADMIN, 'team-a')).toMatchObject({
    usage: { sandboxes: 3, cpus: 3 },
  });

  // Raised on one replica, in force on the other at once.
  await a.tenants.setLimits(ADMIN, 'team-a', { maxCpus: 4 });
  expect((await b.createRunning({ cpus: 1, memory: '256m' }, TEAM_A)).tenant).toBe('team-a');
  expect(await codeOf(a.createRunning({ cpus: 1, memory: '256m' }, TEAM_A))).toBe(
    'TENANT_QUOTA_EXCEEDED',
  );
}

describe('tenant limits across two processes sharing the store', () => {
  it('never lets two processes on SQLite together pass a tenant limit', async () => {
    const backing = await sqliteBacking();
    const a = await bootHarness({ backing, env: ENV });
    const b = await bootHarness({ backing, kv: a.kv, env: ENV });
    try {
      await expectTwoContenders(a, b);
    } finally {
      await b.close();
      await a.close();
      await backing.close();
    }
  });

  it('never lets two processes on PostgreSQL and Redis together pass a tenant limit', async () => {
    const backing = await postgresBacking('tenants');
    const prefix = `sandboxd-test:tenants:${randomBytes(4).toString('hex')}:`;
    const kvA = new RedisKeyValueStore(TEST_REDIS_URL, prefix);
    const kvB = new RedisKeyValueStore(TEST_REDIS_URL, prefix);
    const a = await bootHarness({ backing, kv: kvA, env: ENV });
    const b = await bootHarness({ backing, kv: kvB, env: ENV });
    try {
      await expectTwoContenders(a, b);
    } finally {
      await b.close();
      await a.close();
      await kvA.close();
      await kvB.close();
      await deleteKeysWithPrefix(prefix);
      await backing.close();
    }
  });
});
