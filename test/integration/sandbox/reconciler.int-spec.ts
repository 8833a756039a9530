import { ANONYMOUS_ACTOR } from '@app/domain';
import { ContainerEventStream } from '@app/deployment';
import { MemoryKeyValueStore, SandboxEventLog, sandboxLockKey } from '@app/meta-store';
import { strictMock } from '../../support/strict-mock';
import {
  Harness,
  bootHarness,
  containerIdOf,
  containerState,
  exitedState,
  sqliteBacking,
  targets,
  until,
} from './support';

/** Docker as the reconciler sees it: these containers listed, inspect answering from them. */
function engineShows(h: Harness, containers: ReturnType<typeof containerState>[]): void {
  h.deployment.listOwned.mockResolvedValue(containers);
  h.deployment.inspect.mockImplementation((idOrName) =>
    Promise.resolve(
      containers.find((c) => c.containerId === idOrName || c.name === idOrName) ?? null,
    ),
  );
}

const LONG_AGO = '2020-01-01T00:00:00.000Z';

describe('SandboxReconciler on the real store', () => {
  let h: Harness;

  beforeEach(async () => {
    h = await bootHarness({
      env: { ORPHAN_GRACE_SECONDS: '300', AUTO_DELETE_AFTER_SECONDS: '-1' },
    });
  });

  afterEach(async () => {
    await h.close();
  });

  it('stops a running sandbox whose container exited, with the exit code as the reason', async () => {
    const crashed = await h.createRunning();
    const healthy = await h.createRunning();
    engineShows(h, [
      exitedState(crashed.id, 137, true),
      containerState(healthy.id, { instanceId: h.config.docker.instanceId }),
    ]);

    const actions = await h.reconciler.run();

    expect(actions).toEqual([
      expect.objectContaining({
        kind: 'container-exited',
        sandboxId: crashed.id,
        outcome: 'repaired',
      }),
    ]);
    const after = await h.info(crashed.id);
    expect(after).toMatchObject({ state: 'stopped', operation: null });
    expect(after.failureReason).toBe('container exited with code 137 (OOM-killed)');
    expect(after.stateHistory.at(-1)).toMatchObject({ to: 'stopped', event: 'exited' });
    // Its event says why, in the vocabulary of events: the kernel's OOM killer.
    const [stopped] = await h.moduleRef
      .get(SandboxEventLog)
      .list({ sandboxId: crashed.id, types: ['sandbox.stopped'], limit: 10 });
    expect(stopped).toMatchObject({
      reason: 'oom',
      detail: 'container exited with code 137 (OOM-killed)',
      actor: { kind: 'system' },
    });
    expect((await h.info(healthy.id)).state).toBe('running');
    // Nothing to stop or remove: the container is already down, and the sandbox is kept.
    expect(h.deployment.stop).not.toHaveBeenCalled();
    expect(h.deployment.remove).not.toHaveBeenCalled();
  });

  it('stops a running sandbox whose container vanished, saying it was removed', async () => {
    const gone = await h.createRunning();
    engineShows(h, []);

    const actions = await h.reconciler.run();

    expect(actions).toEqual([
      expect.objectContaining({
        kind: 'container-missing',
        sandboxId: gone.id,
        outcome: 'repaired',
      }),
    ]);
    const after = await h.info(gone.id);
    expect(after.state).toBe('stopped');
    expect(after.failureReason).toBe('container was removed outside sandboxd');
  });

  it('deletes an ephemeral sandbox (autoDeleteSeconds 0) once it is found exited', async () => {
    const ephemeral = await h.createRunning({ autoDeleteSeconds: 0 });
    engineShows(h, [exitedState(ephemeral.id, 1)]);

    await h.reconciler.run();

    expect((await h.info(ephemeral.id)).state).toBe('deleted');
    expect(targets(h.deployment.remove)).toContain(containerIdOf(ephemeral.id));
  });

  it('reports drift without repairing it', async () => {
    const gone = await h.createRunning();
    engineShows(h, []);

    const items = await h.reconciler.report();

    expect(items).toEqual([
      expect.objectContaining({ kind: 'container-missing', sandboxId: gone.id }),
    ]);
    expect((await h.info(gone.id)).state).toBe('running');
  });

  it('leaves a sandbox whose lock is held alone (busy), and repairs it on the next pass', async () => {
    const gone = await h.createRunning();
    engineShows(h, []);
    let release: () => void = () => undefined;
    const held = h.lock.withLock(gone.id, () => new Promise<void>((r) => (release = r)));
    await until(async () =>
      (await h.kv.get(sandboxLockKey(gone.id))) === null ? undefined : true,
    );

    expect(await h.reconciler.run()).toEqual([
      expect.objectContaining({ kind: 'container-missing', outcome: 'busy' }),
    ]);
    expect((await h.info(gone.id)).state).toBe('running');

    release();
    await held;
    expect(await h.reconciler.run()).toEqual([
      expect.objectContaining({ kind: 'container-missing', outcome: 'repaired' }),
    ]);
  });

  it('removes the container (and log dir) of a deleted sandbox that is still there', async () => {
    const sandbox = await h.createRunning();
    await h.sandboxes.delete(ANONYMOUS_ACTOR, sandbox.id, true);
    h.deployment.remove.mockClear();
    h.quota.removeLogDir.mockClear();
    // The engine still has it: the remove was lost (engine restart, a timeout, ...).
    engineShows(h, [exitedState(sandbox.id, 0)]);

    const actions = await h.reconciler.run();

    expect(actions).toEqual([
      expect.objectContaining({
        kind: 'deleted-container-present',
        sandboxId: sandbox.id,
        outcome: 'repaired',
      }),
    ]);
    expect(targets(h.deployment.remove)).toEqual([containerIdOf(sandbox.id)]);
    expect(h.quota.removeLogDir).toHaveBeenCalledWith(h.config.logDir.root, sandbox.id);
    expect((await h.info(sandbox.id)).state).toBe('deleted');
  });

  it('removes orphans past the grace period only for known instance ids, never pool members', async () => {
    const mine = h.config.docker.instanceId;
    const old = { instanceId: mine, createdAt: LONG_AGO };
    const orphanNoRecord = containerState('sbx-never-recorded', old);
    const orphanUnlabelled = containerState(null, old);
    const young = containerState('sbx-still-provisioning', {
      instanceId: mine,
      createdAt: new Date(Date.now() - 10_000).toISOString(),
    });
    const otherInstance = containerState('sbx-of-another-db', {
      instanceId: 'not-in-this-database',
      createdAt: LONG_AGO,
    });
    const poolMember = containerState('sbx-pool-member', { ...old, poolKey: 'demo' });
    const noInstance = containerState('sbx-no-instance-label', { createdAt: LONG_AGO });
    engineShows(h, [
      orphanNoRecord,
      orphanUnlabelled,
      young,
      otherInstance,
      poolMember,
      noInstance,
    ]);

    const actions = await h.reconciler.run();

    expect(actions.map((a) => [a.kind, a.containerId, a.outcome]).sort()).toEqual(
      [
        ['orphan-container', orphanNoRecord.containerId, 'repaired'],
        ['orphan-container', orphanUnlabelled.containerId, 'repaired'],
      ].sort(),
    );
    expect(targets(h.deployment.remove).sort()).toEqual(
      [orphanNoRecord.containerId, orphanUnlabelled.containerId].sort(),
    );
    // A sandbox id without a record takes its log dir along; an unlabelled container has none.
    expect(h.quota.removeLogDir.mock.calls).toEqual([[h.config.logDir.root, 'sbx-never-recorded']]);
  });

  it('removes a second container of a sandbox that settled on another one', async () => {
    const sandbox = await h.createRunning();
    const current = containerState(sandbox.id, { instanceId: h.config.docker.instanceId });
    const leftover = containerState(sandbox.id, {
      containerId: 'ctr-leftover',
      instanceId: h.config.docker.instanceId,
      createdAt: LONG_AGO,
    });
    engineShows(h, [current, leftover]);

    const actions = await h.reconciler.run();

    expect(actions).toEqual([
      expect.objectContaining({ kind: 'orphan-container', containerId: 'ctr-leftover' }),
    ]);
    // The sandbox's log dir is still in use by its own container.
    expect(targets(h.deployment.remove)).toEqual(['ctr-leftover']);
    expect(h.quota.removeLogDir).not.toHaveBeenCalled();
    expect((await h.info(sandbox.id)).state).toBe('running');
  });

  it('reports a repair that failed and still does the others', async () => {
    const old = { instanceId: h.config.docker.instanceId, createdAt: LONG_AGO };
    const stuck = containerState(null, old);
    const fine = containerState(null, old);
    engineShows(h, [stuck, fine]);
    h.deployment.remove.mockImplementation((id) =>
      id === stuck.containerId ? Promise.reject(new Error('engine said no')) : Promise.resolve(),
    );

    const actions = await h.reconciler.run();

    expect(actions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          containerId: stuck.containerId,
          outcome: 'failed',
          error: expect.stringContaining('engine said no'),
        }),
        expect.objectContaining({ containerId: fine.containerId, outcome: 'repaired' }),
      ]),
    );
  });

  it('settles a sandbox from a Docker die event, without a full pass', async () => {
    const sandbox = await h.createRunning();
    h.deployment.inspect.mockResolvedValue(exitedState(sandbox.id, 2));

    await h.reconciler.onContainerEvent({
      action: 'die',
      containerId: containerIdOf(sandbox.id),
      sandboxId: sandbox.id,
      instanceId: h.config.docker.instanceId,
      exitCode: 2,
      at: new Date(),
    });

    const after = await h.info(sandbox.id);
    expect(after.state).toBe('stopped');
    expect(after.failureReason).toBe('container exited with code 2');
    expect(h.deployment.listOwned).not.toHaveBeenCalled();
  });

  it('ignores an event for a container that is running again', async () => {
    const sandbox = await h.createRunning();
    h.deployment.inspect.mockResolvedValue(containerState(sandbox.id));

    await h.reconciler.onContainerEvent({
      action: 'die',
      containerId: containerIdOf(sandbox.id),
      sandboxId: sandbox.id,
      instanceId: h.config.docker.instanceId,
      exitCode: 0,
      at: new Date(),
    });

    expect((await h.info(sandbox.id)).state).toBe('running');
  });

  it('watch() follows the event stream and runs a full pass on every (re)connect', async () => {
    const gone = await h.createRunning();
    engineShows(h, []);
    const stream = strictMock(ContainerEventStream);
    stream.stop.mockReturnValue(undefined);
    let resync: Parameters<typeof h.deployment.watchEvents>[1] = () => undefined;
    h.deployment.watchEvents.mockImplementation((_handler, onResync) => {
      resync = onResync;
      return stream;
    });

    const watcher = h.reconciler.watch();
    void resync();

    await until(async () => ((await h.info(gone.id)).state === 'stopped' ? true : undefined));
    watcher.stop();
    expect(stream.stop).toHaveBeenCalledTimes(1);
  });

  it('treats the containers of an instance id the database knows as judgeable', async () => {
    // A record of another instance in this database makes that instance's containers ours.
    const other = await bootHarness({ backing: h.backing, env: { INSTANCE_ID: 'int-peer' } });
    try {
      await other.createRunning();
      const peerOrphan = containerState('sbx-peer-orphan', {
        instanceId: 'int-peer',
        createdAt: LONG_AGO,
      });
      engineShows(h, [peerOrphan]);
      h.deployment.inspect.mockResolvedValue(null); // the peer's own sandbox: its container is gone
      const actions = await h.reconciler.run();
      expect(actions.filter((a) => a.kind === 'orphan-container')).toEqual([
        expect.objectContaining({ containerId: peerOrphan.containerId, outcome: 'repaired' }),
      ]);
    } finally {
      await other.close();
    }
  });
});

describe('SandboxReconciler finishing an operation a killed process left in flight', () => {
  it('re-runs the interrupted stop and settles the sandbox stopped', async () => {
    const backing = await sqliteBacking();
    const crashed = await bootHarness({ backing, env: { AUTO_DELETE_AFTER_SECONDS: '-1' } });
    let survivor: Harness | null = null;
    try {
      const sandbox = await crashed.createRunning();
      // The first process's stop hangs in Docker, then the process "dies" (its lock and cache
      // are in its own key-value store, which the next process does not share).
      let unblock: () => void = () => undefined;
      crashed.deployment.stop.mockImplementation(
        () => new Promise((resolve) => (unblock = () => resolve('stopped'))),
      );
      const hung = crashed.sandboxes
        .stop(ANONYMOUS_ACTOR, sandbox.id)
        .catch((error: unknown) => error);
      await until(async () =>
        (await crashed.info(sandbox.id)).operation === 'stopping' ? true : undefined,
      );

      survivor = await bootHarness({
        backing,
        kv: new MemoryKeyValueStore(),
        env: { INSTANCE_ID: crashed.config.docker.instanceId, AUTO_DELETE_AFTER_SECONDS: '-1' },
      });
      survivor.deployment.listOwned.mockResolvedValue([exitedState(sandbox.id, 0)]);

      const actions = await survivor.reconciler.run();

      expect(actions).toEqual([
        expect.objectContaining({
          kind: 'operation-interrupted',
          sandboxId: sandbox.id,
          outcome: 'repaired',
        }),
      ]);
      expect(targets(survivor.deployment.stop)).toEqual([containerIdOf(sandbox.id)]);
      expect(await survivor.info(sandbox.id)).toMatchObject({ state: 'stopped', operation: null });

      // The dead process's late answer cannot overwrite the outcome (its version is stale).
      unblock();
      await hung;
      expect(await survivor.info(sandbox.id)).toMatchObject({ state: 'stopped', operation: null });
    } finally {
      await survivor?.close();
      await crashed.close();
      await backing.close();
    }
  });
});
