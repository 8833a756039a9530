import { loadConfig } from '@app/config';
import { CodedError, SYSTEM_ACTOR, ANONYMOUS_ACTOR } from '@app/domain';
import type { DockerDeployment, EngineFacts } from '@app/deployment';
import type { QuotaService } from '@app/quota';
import type {
  SandboxLock,
  SandboxMetaStore,
  SecretsKeyring,
  TenantLimitsStore,
} from '@app/meta-store';
import { ContainerProvisioner } from './container-provisioner';
import { SandboxOwnership } from './sandbox-ownership';
import { SandboxCommands } from './sandbox-commands';
import { SandboxDriver } from './sandbox-driver';
import { SandboxEvent, SandboxEvents } from './sandbox-events';
import { SandboxAdmission } from './sandbox-admission';
import { SandboxEffects } from './sandbox-effects';
import { SandboxMetrics } from './sandbox-metrics';
import { SandboxService } from './sandbox.service';
import { SandboxResources } from './sandbox-resources';
import {
  FakeDeployment,
  FakeEngine,
  FakeLock,
  FakeMetaStore,
  FakeQuota,
  FakeTenantLimits,
  fakeKeyring,
} from './testing/fakes';
import { PoolMetrics } from './warm-pool/pool-metrics';
import { WarmPool } from './warm-pool/warm-pool';

function build(env: Record<string, string> = {}, effectsKeyring?: SecretsKeyring) {
  const config = loadConfig({ INSTANCE_ID: 'unit', ...env });
  const store = new FakeMetaStore();
  const lock = new FakeLock();
  const deployment = new FakeDeployment();
  const storeAsReal = store as unknown as SandboxMetaStore;
  const deploymentAsReal = deployment as unknown as DockerDeployment;
  const provisioner = new ContainerProvisioner(
    config.logDir,
    deploymentAsReal,
    new FakeEngine() as unknown as EngineFacts,
    new FakeQuota() as unknown as QuotaService,
  );
  const driver = new SandboxDriver(
    config.lifecycle,
    storeAsReal,
    new SandboxEffects(
      config.lifecycle,
      deploymentAsReal,
      provisioner,
      effectsKeyring ?? store.keyring,
    ),
  );
  const resources = new SandboxResources(
    config.resources,
    new FakeEngine() as unknown as EngineFacts,
    new FakeQuota() as unknown as QuotaService,
    storeAsReal,
    new FakeTenantLimits() as unknown as TenantLimitsStore,
  );
  const metrics = new SandboxMetrics(storeAsReal);
  const pool = new WarmPool(
    config.pool,
    config.docker,
    config.resources,
    deploymentAsReal,
    provisioner,
    storeAsReal,
    resources,
    new PoolMetrics(metrics),
  );
  const events = new SandboxEvents();
  const commands = new SandboxCommands(
    storeAsReal,
    lock as unknown as SandboxLock,
    driver,
    events,
    new SandboxOwnership(config.cluster, config.docker),
  );
  const service = new SandboxService(
    config.lifecycle,
    config.resources,
    config.docker,
    storeAsReal,
    commands,
    metrics,
    resources,
    pool,
    new SandboxAdmission(),
  );
  return { service, store, deployment, pool, events, metrics };
}

describe(SandboxService.name, () => {
  it('should create a running sandbox with one provision and keep it in the cache', async () => {
    const { service, store, deployment } = build();
    const { sandbox, created } = await service.create(
      ANONYMOUS_ACTOR,
      { image: 'img', ports: [8080], env: { A: 'secret' } },
      { wait: true },
    );
    expect(created).toBe(true);
    expect(sandbox).toMatchObject({ state: 'running', operation: null, envKeys: ['A'] });
    expect(sandbox.ports).toEqual({ '8080': 30000 });
    expect(deployment.calls).toEqual(['provision']);
    expect(store.cache.get(sandbox.id)).toMatchObject({ state: 'running' });
    expect(JSON.stringify(store.cache.get(sandbox.id))).not.toContain('secret');
  });

  it('should open the sealed env for the container, and store it sealed', async () => {
    const { service, store, deployment } = build();
    const { sandbox } = await service.create(
      ANONYMOUS_ACTOR,
      { image: 'img', env: { A: 'secret' } },
      { wait: true },
    );
    expect(deployment.envs.get(sandbox.id)).toEqual({ A: 'secret' });
    expect(JSON.stringify(store.records.get(sandbox.id))).not.toContain('secret');
    expect(await service.envOf(ANONYMOUS_ACTOR, sandbox.id)).toEqual({ A: 'secret' });
  });

  it('should fail only that create, with the code, when its env does not open', async () => {
    const { service, deployment } = build({}, fakeKeyring());
    const { sandbox } = await service.create(
      ANONYMOUS_ACTOR,
      { image: 'img', env: { A: 'secret' } },
      { wait: true },
    );
    expect(sandbox.state).toBe('stopped');
    expect(sandbox.failureReason).toMatch(/env value A of sandbox .* cannot be decrypted/);
    expect(sandbox.failureReason).not.toContain('secret');
    expect(deployment.calls).not.toContain('provision');
    // A sandbox without env needs no key, and is created as usual.
    const plain = await service.create(ANONYMOUS_ACTOR, { image: 'img' }, { wait: true });
    expect(plain.sandbox.state).toBe('running');
  });

  it('should archive the cache on stop and restore it on restart', async () => {
    const { service, store } = build();
    const { sandbox } = await service.create(ANONYMOUS_ACTOR, { image: 'img' }, { wait: true });
    store.calls.length = 0;
    await service.stop(ANONYMOUS_ACTOR, sandbox.id);
    expect(store.calls).toEqual(['update', 'archiveCache']);
    expect(store.cache.has(sandbox.id)).toBe(false);
    store.calls.length = 0;
    const restarted = await service.restart(ANONYMOUS_ACTOR, sandbox.id);
    expect(restarted.state).toBe('running');
    expect(store.calls).toEqual(['update', 'restoreCache', 'update']);
    expect(store.cache.get(sandbox.id)).toMatchObject({ state: 'running' });
  });

  it('should refuse an illegal command without touching Docker', async () => {
    const { service, deployment } = build();
    const { sandbox } = await service.create(ANONYMOUS_ACTOR, { image: 'img' }, { wait: true });
    deployment.calls.length = 0;
    await expect(service.restart(ANONYMOUS_ACTOR, sandbox.id)).rejects.toMatchObject({
      code: 'INVALID_TRANSITION',
      details: { state: 'running', event: 'restart' },
    });
    await expect(service.delete(ANONYMOUS_ACTOR, sandbox.id, false)).rejects.toMatchObject({
      code: 'INVALID_TRANSITION',
    });
    expect(deployment.calls).toEqual([]);
  });

  it('should write nothing for a stop of a stopped sandbox', async () => {
    const { service, store, deployment } = build();
    const { sandbox } = await service.create(ANONYMOUS_ACTOR, { image: 'img' }, { wait: true });
    await service.stop(ANONYMOUS_ACTOR, sandbox.id);
    store.calls.length = 0;
    deployment.calls.length = 0;
    const again = await service.stop(ANONYMOUS_ACTOR, sandbox.id);
    expect(again.state).toBe('stopped');
    expect(store.calls).toEqual([]);
    expect(deployment.calls).toEqual([]);
  });

  it('should refuse every delete of a protected sandbox until it is unprotected', async () => {
    const { service, deployment } = build({ AUTO_DELETE_AFTER_SECONDS: '0' });
    const { sandbox } = await service.create(
      ANONYMOUS_ACTOR,
      { image: 'img', protected: true },
      { wait: true },
    );
    await expect(service.delete(ANONYMOUS_ACTOR, sandbox.id, true)).rejects.toMatchObject({
      code: 'SANDBOX_PROTECTED',
    });
    // Ephemeral (AUTO_DELETE_AFTER_SECONDS=0), yet the stop leaves it stopped.
    expect((await service.stop(ANONYMOUS_ACTOR, sandbox.id)).state).toBe('stopped');
    deployment.calls.length = 0;
    for (const force of [false, true]) {
      await expect(service.delete(ANONYMOUS_ACTOR, sandbox.id, force)).rejects.toMatchObject({
        code: 'SANDBOX_PROTECTED',
      });
    }
    expect(deployment.calls).toEqual([]);
    const unprotected = await service.setProtected(ANONYMOUS_ACTOR, sandbox.id, false);
    expect(unprotected).toMatchObject({ protected: false, state: 'stopped' });
    expect((await service.delete(ANONYMOUS_ACTOR, sandbox.id, false)).state).toBe('deleted');
    await expect(service.setProtected(ANONYMOUS_ACTOR, sandbox.id, true)).rejects.toMatchObject({
      code: 'INVALID_TRANSITION',
    });
  });

  it("should keep the record's protected flag and the machine's in step", async () => {
    const { service, store } = build();
    const { sandbox } = await service.create(ANONYMOUS_ACTOR, { image: 'img' }, { wait: true });
    const protectedOne = await service.setProtected(ANONYMOUS_ACTOR, sandbox.id, true);
    expect(protectedOne.protected).toBe(true);
    const record = await (store as unknown as SandboxMetaStore).load(sandbox.id);
    expect(record?.machineSnapshot).toMatchObject({ context: { protected: true } });
    await expect(service.delete(ANONYMOUS_ACTOR, sandbox.id, true)).rejects.toMatchObject({
      code: 'SANDBOX_PROTECTED',
    });
  });

  it('should answer RECORD_CORRUPT for a snapshot without protection (migrations write it)', async () => {
    const { service, store } = build();
    const { sandbox } = await service.create(ANONYMOUS_ACTOR, { image: 'img' }, { wait: true });
    const real = store as unknown as SandboxMetaStore;
    const record = await real.load(sandbox.id);
    const snapshot = record?.machineSnapshot as { context: Record<string, unknown> };
    delete snapshot.context.protected;
    await real.update(
      sandbox.id,
      { protected: true },
      { expectedVersion: record!.version, machineSnapshot: snapshot },
    );
    await expect(service.delete(ANONYMOUS_ACTOR, sandbox.id, true)).rejects.toMatchObject({
      code: 'RECORD_CORRUPT',
    });
  });

  it('should refuse a restart on Kata with RESTART_UNSUPPORTED before touching Docker', async () => {
    const { service, deployment } = build({ ALLOWED_RUNTIMES: 'runc,kata-runtime' });
    const { sandbox } = await service.create(
      ANONYMOUS_ACTOR,
      { image: 'img', runtime: 'kata-runtime' },
      { wait: true },
    );
    await service.stop(ANONYMOUS_ACTOR, sandbox.id);
    deployment.calls.length = 0;
    await expect(service.restart(ANONYMOUS_ACTOR, sandbox.id)).rejects.toMatchObject({
      code: 'RESTART_UNSUPPORTED',
      details: { sandboxId: sandbox.id, runtime: 'kata-runtime' },
    });
    expect(deployment.calls).toEqual([]);
  });

  it('should delete an ephemeral sandbox right after its stop, and publish each step once stored', async () => {
    const { service, store, events } = build({ AUTO_DELETE_AFTER_SECONDS: '0' });
    const published: { event: SandboxEvent; state: string | undefined }[] = [];
    events.subscribe((event) => {
      // Published after the write: the store already holds the state the event enters.
      published.push({ event, state: store.records.get(event.sandboxId)?.info.state });
    });
    const { sandbox } = await service.create(ANONYMOUS_ACTOR, { image: 'img' }, { wait: true });
    const deleted = await service.stop(ANONYMOUS_ACTOR, sandbox.id);
    expect(deleted.state).toBe('deleted');
    expect(deleted.stateHistory.at(-1)).toMatchObject({ to: 'deleted', reason: 'auto-delete' });
    expect(published.map(({ event }) => event.type)).toEqual([
      'sandbox.created',
      'sandbox.running',
      'sandbox.stopped',
      'sandbox.deleted',
    ]);
    expect(published.map((p) => p.event.sandboxId)).toEqual([
      sandbox.id,
      sandbox.id,
      sandbox.id,
      sandbox.id,
    ]);
    // Published once the command's outcome is stored, never before; each is in the log.
    expect(published.map((p) => p.state)).toEqual(['pending', 'running', 'deleted', 'deleted']);
    expect(published.map((p) => p.event)).toEqual(store.events);
    // The stop and the ephemeral delete commit in one write: both carry the sandbox it left.
    expect(published[2].event).toMatchObject({ reason: 'manual', sandbox: { state: 'deleted' } });
  });

  it("should keep the failed effect's code through a crash: a recovered failure is coded", async () => {
    const { service, store, deployment } = build();
    const { sandbox } = await service.create(ANONYMOUS_ACTOR, { image: 'img' }, { wait: true });
    deployment.failNext('stop', new CodedError('ENGINE_TIMEOUT', 'stop hung', { call: 'stop' }));
    await expect(service.stop(ANONYMOUS_ACTOR, sandbox.id)).rejects.toMatchObject({
      code: 'ENGINE_TIMEOUT',
      message: 'stop hung',
      details: { call: 'stop' },
    });
    const stored = store.records.get(sandbox.id)!;
    expect(stored.machineSnapshot).toMatchObject({
      context: { lastFailure: { code: 'ENGINE_TIMEOUT', message: 'stop hung' } },
    });
  });

  it('should treat delete of a deleted sandbox as done', async () => {
    const { service, deployment } = build();
    const { sandbox } = await service.create(ANONYMOUS_ACTOR, { image: 'img' }, { wait: true });
    await service.delete(ANONYMOUS_ACTOR, sandbox.id, true);
    deployment.calls.length = 0;
    const again = await service.delete(ANONYMOUS_ACTOR, sandbox.id, false);
    expect(again.state).toBe('deleted');
    expect(deployment.calls).toEqual([]);
  });

  it('should report a failed stop and keep the sandbox running with the reason', async () => {
    const { service, store, deployment } = build();
    const { sandbox } = await service.create(ANONYMOUS_ACTOR, { image: 'img' }, { wait: true });
    deployment.failNext('stop', new CodedError('RUNTIME_UNAVAILABLE', 'engine down'));
    await expect(service.stop(ANONYMOUS_ACTOR, sandbox.id)).rejects.toMatchObject({
      code: 'RUNTIME_UNAVAILABLE',
    });
    const stored = await store.load(sandbox.id);
    expect(stored?.info).toMatchObject({
      state: 'running',
      operation: null,
      failureReason: 'engine down',
    });
  });

  it('should end a create whose provision fails in stopped with the reason', async () => {
    const { service, deployment } = build();
    deployment.failNext('provision', new CodedError('IMAGE_UNAVAILABLE', 'no such image'));
    const { sandbox } = await service.create(ANONYMOUS_ACTOR, { image: 'img' }, { wait: true });
    expect(sandbox).toMatchObject({ state: 'stopped', failureReason: 'no such image' });
    expect(sandbox.stateHistory).toEqual([
      expect.objectContaining({ from: 'pending', to: 'stopped', event: 'startFailed' }),
    ]);
  });

  it('should count a create whose start failed as a failed create', async () => {
    const { service, deployment, metrics } = build();
    deployment.failNext('provision', new CodedError('IMAGE_UNAVAILABLE', 'no such image'));
    await service.create(ANONYMOUS_ACTOR, { image: 'img' }, { wait: true });
    const counted = await metrics.registry.getSingleMetricAsString('sandboxd_operations_total');
    expect(counted).toContain(
      'sandboxd_operations_total{operation="create",outcome="CONTAINER_FAILED"} 1',
    );
  });

  it('should report a restart of a vanished container and end in stopped', async () => {
    const { service, deployment } = build();
    const { sandbox } = await service.create(ANONYMOUS_ACTOR, { image: 'img' }, { wait: true });
    await service.stop(ANONYMOUS_ACTOR, sandbox.id);
    deployment.containers.clear();
    await expect(service.restart(ANONYMOUS_ACTOR, sandbox.id)).rejects.toMatchObject({
      code: 'CONTAINER_MISSING',
    });
    const view = await service.get(ANONYMOUS_ACTOR, sandbox.id);
    expect(view.state).toBe('stopped');
    expect(view.failureReason).toContain('no longer exists');
  });

  it('should answer 404-style errors for unknown sandboxes', async () => {
    const { service } = build();
    await expect(service.get(ANONYMOUS_ACTOR, 'missing')).rejects.toMatchObject({
      code: 'SANDBOX_NOT_FOUND',
    });
    await expect(service.stop(ANONYMOUS_ACTOR, 'missing')).rejects.toMatchObject({
      code: 'SANDBOX_NOT_FOUND',
    });
  });

  it('should finish an operation that a killed process left in flight', async () => {
    const { service, store, deployment } = build();
    const { sandbox } = await service.create(ANONYMOUS_ACTOR, { image: 'img' }, { wait: true });
    // Simulate a crash between "busy snapshot persisted" and "outcome persisted": the stop effect
    // never settles in the dead process.
    const record = store.records.get(sandbox.id)!;
    const { sandboxMachine } = await import('./sandbox.machine');
    const { createActor, fromPromise } = await import('xstate');
    const actor = createActor(
      sandboxMachine.provide({
        actors: { stopContainer: fromPromise(() => new Promise<void>(() => undefined)) },
      }),
      {
        snapshot: record.machineSnapshot as never,
        input: {
          sandboxId: sandbox.id,
          protected: false,
          facts: { runtime: 'runc', autoDeleteSeconds: -1, actor: SYSTEM_ACTOR },
        },
      },
    ).start();
    actor.send({ type: 'stop' });
    record.machineSnapshot = actor.getPersistedSnapshot();
    record.info = { ...record.info, operation: 'stopping' };
    actor.stop();
    deployment.calls.length = 0;

    expect(await service.recoverInterrupted()).toBe(1);
    const view = await service.get(ANONYMOUS_ACTOR, sandbox.id);
    expect(view).toMatchObject({ state: 'stopped', operation: null });
    expect(deployment.calls).toEqual(['stop']);
  });

  describe('with a warm pool', () => {
    async function pooled(env: Record<string, string> = {}) {
      const built = build({ WARM_POOL: 'img:2', ...env });
      await built.pool.maintain();
      await built.pool.settled();
      return built;
    }

    it('should give a matching create a member: its id, its running container, fromPool', async () => {
      const { service, deployment, pool } = await pooled();
      const made = [...deployment.containers.values()];
      const { sandbox } = await service.create(
        ANONYMOUS_ACTOR,
        { image: 'img', env: { A: 'secret' } },
        { wait: true },
      );
      expect(sandbox).toMatchObject({ state: 'running', fromPool: true, envKeys: ['A'] });
      expect(sandbox.id).toBe(made[0].sandboxId);
      expect(sandbox.containerId).toBe(made[0].containerId);
      expect(await service.envOf(ANONYMOUS_ACTOR, sandbox.id)).toEqual({ A: 'secret' });
      await pool.settled();
      expect(pool.status()[0].idle).toBe(2);

      const cold = await service.create(
        ANONYMOUS_ACTOR,
        { image: 'img', memory: '64m' },
        { wait: true },
      );
      expect(cold.sandbox.fromPool).toBe(false);
    });

    it('should give the member back when admission refuses the create', async () => {
      // 8 fake CPUs × 0.2 = 1.6: a cold 1-CPU sandbox leaves too little for the pool's 1 CPU.
      const { service, deployment, pool } = await pooled({ OVERCOMMIT_CPU: '0.2' });
      await service.create(ANONYMOUS_ACTOR, { image: 'img', memory: '64m' }, { wait: true });
      const before = [...deployment.containers.keys()];
      await expect(
        service.create(ANONYMOUS_ACTOR, { image: 'img' }, { wait: true }),
      ).rejects.toMatchObject({
        code: 'INSUFFICIENT_CAPACITY',
      });
      await pool.settled();
      expect(pool.status()[0].idle).toBe(2);
      expect([...deployment.containers.keys()]).toEqual(before);
    });
  });
});
