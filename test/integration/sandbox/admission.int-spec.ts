import { randomBytes } from 'node:crypto';
import { CodedError, isCodedError, ANONYMOUS_ACTOR } from '@app/domain';
import type { Actor, SandboxInfo } from '@app/domain';
import { KeyValueStore, MemoryKeyValueStore, RedisKeyValueStore } from '@app/meta-store';
import { TEST_REDIS_URL, deleteKeysWithPrefix } from '../meta-store/meta-store-support';
import {
  Harness,
  SqliteBacking,
  bootHarness,
  containerState,
  postgresBacking,
  sqliteBacking,
} from './support';

const GiB = 1024 ** 3;
/** A small host, so a few sandboxes fill it. No request below asks for more than all of it. */
const SMALL_HOST = { cpus: 4, memoryBytes: 8 * GiB };
const NO_OVERCOMMIT = {
  OVERCOMMIT_CPU: '1',
  OVERCOMMIT_MEMORY: '1',
  AUTO_DELETE_AFTER_SECONDS: '-1',
};

async function outcomeOf(create: Promise<SandboxInfo>): Promise<SandboxInfo | CodedError> {
  try {
    return await create;
  } catch (error) {
    if (isCodedError(error)) return error;
    throw error;
  }
}

function refusals(outcomes: (SandboxInfo | CodedError)[]): string[] {
  return outcomes.filter((o): o is CodedError => o instanceof CodedError).map((e) => e.code);
}

describe('SandboxResources admission on the real store', () => {
  let h: Harness;

  beforeEach(async () => {
    h = await bootHarness({ env: NO_OVERCOMMIT });
    h.engine.capacity.mockResolvedValue(SMALL_HOST);
  });

  afterEach(async () => {
    await h.close();
  });

  it('refuses a create that does not fit now with INSUFFICIENT_CAPACITY, and admits it once room is freed', async () => {
    const first = await h.createRunning({ cpus: 2, memory: '1g' });
    await h.createRunning({ cpus: 2, memory: '1g' });

    const refused = await outcomeOf(h.createRunning({ cpus: 2, memory: '1g', name: 'third' }));

    expect(refused).toBeInstanceOf(CodedError);
    expect((refused as CodedError).code).toBe('INSUFFICIENT_CAPACITY');
    expect((refused as CodedError).message).toMatch(/CPU/);
    // Nothing was recorded or provisioned for the refused create.
    expect(await h.store.load('third')).toBeNull();
    expect(h.deployment.provision).toHaveBeenCalledTimes(2);

    // A stopped sandbox commits nothing: the same request now fits.
    await h.sandboxes.stop(ANONYMOUS_ACTOR, first.id);
    expect((await h.createRunning({ cpus: 2, memory: '1g', name: 'third' })).state).toBe('running');
  });

  it('counts memory as well as CPU, naming the resource that ran out', async () => {
    await h.createRunning({ cpus: 1, memory: '3g' });
    await h.createRunning({ cpus: 1, memory: '3g' });

    const refused = await outcomeOf(h.createRunning({ cpus: 1, memory: '3g' }));

    expect((refused as CodedError).code).toBe('INSUFFICIENT_CAPACITY');
    expect((refused as CodedError).message).toMatch(/memory/);
    expect(await h.store.committedResources()).toMatchObject({ cpus: 2, memoryBytes: 6 * GiB });
  });

  it('lets concurrent creates in one process never commit more than the capacity', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 7 }, () => outcomeOf(h.createRunning({ cpus: 1, memory: '256m' }))),
    );

    expect(outcomes.filter((o) => !(o instanceof CodedError)).length).toBe(4);
    expect(refusals(outcomes)).toEqual(Array(3).fill('INSUFFICIENT_CAPACITY'));
    expect((await h.store.committedResources()).cpus).toBe(4);
  });
});

describe('SandboxResources admission across two processes sharing the store', () => {
  it('never lets two processes together commit more than the capacity', async () => {
    const backing = await sqliteBacking();
    const a = await bootHarness({ backing, env: NO_OVERCOMMIT });
    const b = await bootHarness({ backing, kv: a.kv, env: NO_OVERCOMMIT });
    try {
      for (const h of [a, b]) h.engine.capacity.mockResolvedValue(SMALL_HOST);
      const creates = [a, b, a, b, a, b].map((h) =>
        outcomeOf(h.createRunning({ cpus: 1, memory: '256m' })),
      );
      const outcomes = await Promise.all(creates);

      expect(outcomes.filter((o) => !(o instanceof CodedError)).length).toBe(4);
      expect(refusals(outcomes)).toEqual(['INSUFFICIENT_CAPACITY', 'INSUFFICIENT_CAPACITY']);
      expect((await a.store.committedResources()).cpus).toBe(4);
    } finally {
      await b.close();
      await a.close();
      await backing.close();
    }
  });
});

describe('SandboxResources caps and disk policy on the real create path', () => {
  let h: Harness | null = null;

  afterEach(async () => {
    await h?.close();
    h = null;
  });

  it('refuses a request above MAX_CPUS or MAX_MEMORY, or a runtime not allowed, before any record', async () => {
    h = await bootHarness({ env: { MAX_CPUS: '2', MAX_MEMORY: '1g', ...NO_OVERCOMMIT } });

    expect(await codeOf(h.createRunning({ cpus: 3, name: 'too-many' }))).toBe('VALIDATION_FAILED');
    expect(await codeOf(h.createRunning({ memory: '2g', name: 'too-much' }))).toBe(
      'VALIDATION_FAILED',
    );
    expect(await codeOf(h.createRunning({ runtime: 'kata', name: 'other-rt' }))).toBe(
      'VALIDATION_FAILED',
    );
    expect(h.deployment.provision).not.toHaveBeenCalled();
    for (const name of ['too-many', 'too-much', 'other-rt']) {
      expect(await h.store.load(name)).toBeNull();
    }
  });

  it('refuses a disk it cannot enforce under DISK_LIMIT_POLICY=reject, and records it under warn', async () => {
    const unsupported = { supported: false, reason: 'storage driver is vfs, not overlay2' };
    h = await bootHarness({ env: { DISK_LIMIT_POLICY: 'reject', ...NO_OVERCOMMIT } });
    h.engine.storageInfo.mockResolvedValue({ Driver: 'vfs' });
    h.quota.detectStorageOptSupport.mockResolvedValue(unsupported);
    expect(await codeOf(h.createRunning({ disk: '1g' }))).toBe('DISK_LIMIT_UNSUPPORTED');
    await h.close();

    h = await bootHarness({ env: { DISK_LIMIT_POLICY: 'warn', ...NO_OVERCOMMIT } });
    h.engine.storageInfo.mockResolvedValue({ Driver: 'vfs' });
    h.quota.detectStorageOptSupport.mockResolvedValue(unsupported);
    const sandbox = await h.createRunning({ disk: '1g' });
    expect(sandbox.disk).toEqual({
      requested: '1g',
      requestedBytes: 1024 ** 3,
      enforced: false,
      reason: unsupported.reason,
    });
    // Detected once per process, not per create.
    await h.createRunning({ disk: '1g' });
    expect(h.quota.detectStorageOptSupport).toHaveBeenCalledTimes(1);
  });

  it('asks the engine for its capacity again after a failed answer', async () => {
    h = await bootHarness({ env: NO_OVERCOMMIT });
    h.engine.capacity.mockRejectedValueOnce(new Error('engine is restarting'));

    await expect(h.createRunning()).rejects.toThrow('engine is restarting');
    expect((await h.createRunning()).state).toBe('running');
    expect(h.engine.capacity).toHaveBeenCalledTimes(2);
  });
});

const TEAM_A: Actor = { kind: 'tenant', tenant: 'team-a', keyId: 'key-a' };
const ADMIN: Actor = { kind: 'admin', tenant: null, keyId: 'key-admin' };

/** Two processes ("replicas") on one database, each with its own key-value store client. */
interface Replicas {
  a: Harness;
  b: Harness;
  close(): Promise<void>;
}

const BACKENDS: [string, () => Promise<Replicas>][] = [
  [
    'SQLite',
    async () => {
      const backing = await sqliteBacking();
      const kv = new MemoryKeyValueStore();
      return replicasOn(
        backing,
        () => kv,
        () => Promise.resolve(),
      );
    },
  ],
  [
    'PostgreSQL and Redis',
    async () => {
      const backing = await postgresBacking('admission');
      const prefix = `sandboxd-test:admission:${randomBytes(4).toString('hex')}:`;
      const clients: RedisKeyValueStore[] = [];
      return replicasOn(
        backing,
        () => {
          const kv = new RedisKeyValueStore(TEST_REDIS_URL, prefix);
          clients.push(kv);
          return kv;
        },
        async () => {
          for (const kv of clients) await kv.close();
          await deleteKeysWithPrefix(prefix);
        },
      );
    },
  ],
];

async function replicasOn(
  backing: SqliteBacking,
  kvOf: () => KeyValueStore,
  closeKv: () => Promise<void>,
): Promise<Replicas> {
  const a = await bootHarness({ backing, kv: kvOf(), env: NO_OVERCOMMIT });
  const b = await bootHarness({ backing, kv: kvOf(), env: NO_OVERCOMMIT });
  return {
    a,
    b,
    close: async () => {
      await b.close();
      await a.close();
      await closeKv();
      await backing.close();
    },
  };
}

/** A restart finds the container exited and starts it again (the happy Docker of the harness). */
function stubRestarts(h: Harness): void {
  const sandboxOf = (containerId: string) => containerId.replace(/^ctr-/, '');
  h.deployment.inspect.mockImplementation((containerId: string) =>
    Promise.resolve(containerState(sandboxOf(containerId), { running: false, status: 'exited' })),
  );
  h.deployment.start.mockImplementation((containerId: string) =>
    Promise.resolve(containerState(sandboxOf(containerId))),
  );
}

describe.each(BACKENDS)('admission on the usage counters, two replicas on %s', (_, boot) => {
  let r: Replicas;
  const BURST = 30;

  beforeEach(async () => {
    r = await boot();
  });

  afterEach(async () => {
    await r.close();
  });

  /** BURST creates at once, alternating between the replicas. */
  const burst = (input: Parameters<Harness['createRunning']>[0], actor?: Actor) =>
    Promise.all(
      Array.from({ length: BURST }, (_, i) =>
        outcomeOf((i % 2 === 0 ? r.a : r.b).createRunning(input, actor)),
      ),
    );

  it('admits exactly what the host capacity holds out of a burst, and the counters stay the truth', async () => {
    for (const h of [r.a, r.b])
      h.engine.capacity.mockResolvedValue({ cpus: 12, memoryBytes: 64 * GiB });

    const outcomes = await burst({ cpus: 1, memory: '256m' });

    expect(outcomes.filter((o) => !(o instanceof CodedError))).toHaveLength(12);
    expect(refusals(outcomes)).toEqual(Array(BURST - 12).fill('INSUFFICIENT_CAPACITY'));
    const refused = outcomes.find((o): o is CodedError => o instanceof CodedError);
    expect(refused?.details).toEqual({
      committedCpus: 12,
      committedMemoryBytes: 12 * 256 * 1024 ** 2,
      capacityCpus: 12,
      capacityMemoryBytes: 64 * GiB,
    });
    expect(await r.b.store.committedResources()).toEqual({
      sandboxes: 12,
      cpus: 12,
      memoryBytes: 12 * 256 * 1024 ** 2,
    });
    expect(await r.a.store.usageDrift()).toEqual([]);
    // Only what was admitted reached Docker.
    const provisions =
      r.a.deployment.provision.mock.calls.length + r.b.deployment.provision.mock.calls.length;
    expect(provisions).toBe(12);
  });

  it("admits exactly a tenant's limit out of a burst of its creates", async () => {
    await r.a.tenants.setLimits(ADMIN, 'team-a', { maxSandboxes: 7, maxCpus: 100 });

    const outcomes = await burst({ cpus: 0.1, memory: '64m' }, TEAM_A);

    expect(outcomes.filter((o) => !(o instanceof CodedError))).toHaveLength(7);
    expect(refusals(outcomes)).toEqual(Array(BURST - 7).fill('TENANT_QUOTA_EXCEEDED'));
    expect(outcomes.find((o) => o instanceof CodedError)).toMatchObject({
      details: { tenant: 'team-a', limit: 'maxSandboxes', max: 7, current: 7, requested: 1 },
    });
    expect((await r.b.tenants.describe(ADMIN, 'team-a')).usage).toEqual({
      sandboxes: 7,
      liveSandboxes: 7,
      cpus: 0.7,
      memoryBytes: 7 * 64 * 1024 ** 2,
    });
    expect(await r.a.store.usageDrift()).toEqual([]);
  });

  it('moves the counters on stop, restart and delete', async () => {
    stubRestarts(r.a);
    const one = await r.a.createRunning({ cpus: 1.5, memory: '1g' }, TEAM_A);
    await r.b.createRunning({ cpus: 0.5, memory: '1g' }, TEAM_A);
    const usage = () => r.a.store.tenantUsage('team-a');
    const host = () => r.b.store.committedResources();

    await r.a.sandboxes.stop(TEAM_A, one.id);
    expect(await host()).toEqual({ sandboxes: 1, cpus: 0.5, memoryBytes: GiB });
    expect(await usage()).toEqual({
      sandboxes: 2,
      liveSandboxes: 1,
      cpus: 2,
      memoryBytes: 2 * GiB,
    });

    // A restart takes the host share back without asking (see SandboxDb.updateVersioned).
    expect((await r.a.sandboxes.restart(TEAM_A, one.id)).state).toBe('running');
    expect(await host()).toEqual({ sandboxes: 2, cpus: 2, memoryBytes: 2 * GiB });
    expect(await usage()).toEqual({
      sandboxes: 2,
      liveSandboxes: 2,
      cpus: 2,
      memoryBytes: 2 * GiB,
    });

    await r.a.sandboxes.delete(TEAM_A, one.id, true);
    expect(await host()).toEqual({ sandboxes: 1, cpus: 0.5, memoryBytes: GiB });
    expect(await usage()).toEqual({
      sandboxes: 1,
      liveSandboxes: 1,
      cpus: 0.5,
      memoryBytes: GiB,
    });
    expect(await r.a.store.usageDrift()).toEqual([]);
  });

  it('reports a corrupted counter and fixes it in the reconcile pass', async () => {
    for (const h of [r.a, r.b]) h.engine.capacity.mockResolvedValue(SMALL_HOST);
    const mine = await r.a.createRunning({ cpus: 1, memory: '256m' });
    const theirs = await r.a.createRunning({ cpus: 1, memory: '256m' }, TEAM_A);
    // Docker agrees with the records: the only drift is the counters'.
    r.a.deployment.listOwned.mockResolvedValue([
      containerState(mine.id),
      containerState(theirs.id),
    ]);
    // A manual edit: the host looks full, the tenant holds one sandbox more than it does.
    await r.a.backing.dataSource.query(
      `UPDATE resource_usage SET cpu_nanos = cpu_nanos + 2000000000 WHERE scope = 'host'`,
    );
    await r.a.backing.dataSource.query(
      `UPDATE resource_usage SET sandboxes = 5 WHERE scope = 'tenant:team-a'`,
    );
    expect(await codeOf(r.b.createRunning({ cpus: 1, memory: '256m' }))).toBe(
      'INSUFFICIENT_CAPACITY',
    );

    const drift = [
      {
        kind: 'usage-drift',
        sandboxId: null,
        containerId: null,
        detail: 'host cpuNanos: the counter holds 4000000000, the sandbox rows sum to 2000000000',
      },
      {
        kind: 'usage-drift',
        sandboxId: null,
        containerId: null,
        detail: 'tenant:team-a sandboxes: the counter holds 5, the sandbox rows sum to 1',
      },
    ];
    expect(await r.a.reconciler.report()).toEqual(drift);
    expect(await r.a.reconciler.run()).toEqual(
      drift.map((item) => ({ ...item, outcome: 'repaired' })),
    );
    expect(await r.b.store.usageDrift()).toEqual([]);
    expect(await r.b.store.tenantUsage('team-a')).toMatchObject({ sandboxes: 1 });
    expect((await r.b.createRunning({ cpus: 1, memory: '256m' })).state).toBe('running');
  });
});

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const outcome = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isCodedError(outcome)) throw new Error(`expected a CodedError, got ${String(outcome)}`);
  return outcome.code;
}

describe('usage holds on PostgreSQL (a create reserves before its insert)', () => {
  let r: Replicas;

  beforeEach(async () => {
    r = await BACKENDS[1][1]();
    for (const h of [r.a, r.b]) h.engine.capacity.mockResolvedValue(SMALL_HOST);
  });

  afterEach(async () => {
    await r.close();
  });

  const holds = async () => {
    const [row] = await r.a.backing.dataSource.query<{ n: string }[]>(
      `SELECT COUNT(*) AS n FROM usage_hold`,
    );
    return Number(row.n);
  };

  it('leaves no hold behind: an insert takes it over, a refused or conflicting create gives it back', async () => {
    await r.a.tenants.setLimits(ADMIN, 'team-a', { maxSandboxes: 2 });
    await r.a.createRunning({ cpus: 1, memory: '256m', name: 'taken' }, TEAM_A);
    // The name conflicts only at the insert, after both holds were taken.
    expect(
      await codeOf(r.b.createRunning({ cpus: 1, memory: '256m', name: 'taken' }, TEAM_A)),
    ).toBe('NAME_CONFLICT');
    await r.b.createRunning({ cpus: 1, memory: '256m' }, TEAM_A);
    // The tenant's hold is refused, and the host's never taken.
    expect(await codeOf(r.a.createRunning({ cpus: 1, memory: '256m' }, TEAM_A))).toBe(
      'TENANT_QUOTA_EXCEEDED',
    );

    expect(await holds()).toBe(0);
    expect(await r.a.store.usageDrift()).toEqual([]);
    expect(await r.b.store.committedResources()).toEqual({
      sandboxes: 2,
      cpus: 2,
      memoryBytes: 2 * 256 * 1024 ** 2,
    });
    expect(await r.b.store.tenantUsage('team-a')).toMatchObject({ sandboxes: 2, cpus: 2 });
  });

  it('counts the hold of a create that died before its insert until the reconcile pass expires it', async () => {
    await r.a.createRunning({ cpus: 1, memory: '256m' });
    const now = Date.now();
    // What a process that died between its hold and its insert leaves: the counter and the hold.
    await r.a.backing.dataSource.query(
      `UPDATE resource_usage SET sandboxes = sandboxes + 1, live_sandboxes = live_sandboxes + 1,
         cpu_nanos = cpu_nanos + 2000000000 WHERE scope = 'host'`,
    );
    await r.a.backing.dataSource.query(
      `INSERT INTO usage_hold (sandbox_id, scope, sandboxes, live_sandboxes, cpu_nanos, memory_bytes, created_at)
       VALUES ('sb-died', 'host', 1, 1, 2000000000, 0, ${now})`,
    );

    // Young, it may still be inserted: the truth counts it, and the reconcile pass keeps it.
    expect(await r.a.store.usageDrift()).toEqual([]);
    expect(await r.a.store.reconcileUsage(now + 1_000)).toEqual([]);
    expect(await r.b.store.committedResources()).toMatchObject({ sandboxes: 2, cpus: 3 });
    expect(await codeOf(r.b.createRunning({ cpus: 2, memory: '256m' }))).toBe(
      'INSUFFICIENT_CAPACITY',
    );

    // Past HOLD_TTL_MS (60 s) it is expired and its share given back.
    expect(await r.a.store.reconcileUsage(now + 61_000)).toEqual([
      { scope: 'host', counter: 'sandboxes', stored: 2, truth: 1 },
      { scope: 'host', counter: 'liveSandboxes', stored: 2, truth: 1 },
      { scope: 'host', counter: 'cpuNanos', stored: 3_000_000_000, truth: 1_000_000_000 },
    ]);
    expect(await holds()).toBe(0);
    expect((await r.b.createRunning({ cpus: 2, memory: '256m' })).state).toBe('running');
  });
});
