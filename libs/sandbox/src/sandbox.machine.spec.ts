import { createActor, fromPromise, waitFor } from 'xstate';
import { Actor, CodedError, SANDBOX_STATES, SYSTEM_ACTOR } from '@app/domain';
import {
  ContainerFacts,
  ContainerRef,
  HISTORY_LIMIT,
  SandboxFacts,
  SandboxRef,
  capabilityVerdict,
  createSandboxMachine,
  restore,
  sandboxMachine,
  stateAllows,
  verdictOf,
} from './sandbox.machine';

const T0 = Date.parse('2026-06-01T12:00:00.000Z');
/** A clock that moves one second per reading: every timestamp is known in advance. */
function fixedClock() {
  let ticks = 0;
  return () => new Date(T0 + 1000 * ticks++);
}
const RUNC: SandboxFacts = { runtime: 'runc', autoDeleteSeconds: -1, actor: SYSTEM_ACTOR };

const facts: ContainerFacts = { containerId: 'c1', ports: { '8080': 30001 }, host: '127.0.0.1' };

/** A machine whose effects are fakes; `fail` names the actors that reject. */
function machineWith(fail: string[] = [], calls: string[] = []) {
  const effect = <O, I>(name: string, output: O) =>
    fromPromise<O, I>(() => {
      calls.push(name);
      return fail.includes(name)
        ? Promise.reject(
            new CodedError('RUNTIME_UNAVAILABLE', `${name} broke`, {
              sandboxId: 'sb1',
              call: name,
            }),
          )
        : Promise.resolve(output);
    });
  return createSandboxMachine({ now: fixedClock() }).provide({
    actors: {
      createContainer: effect<ContainerFacts, SandboxRef>('createContainer', facts),
      startContainer: effect<ContainerFacts, ContainerRef>('startContainer', facts),
      stopContainer: effect<void, ContainerRef>('stopContainer', undefined),
      removeContainer: effect<void, ContainerRef>('removeContainer', undefined),
    },
  });
}

async function settle(actor: ReturnType<typeof start>) {
  return waitFor(actor, (s) => !s.hasTag('busy'));
}

function start(machine = machineWith(), protectedAtCreate = false, facts: SandboxFacts = RUNC) {
  return createActor(machine, {
    input: { sandboxId: 'sb1', protected: protectedAtCreate, facts },
  }).start();
}

function publicState(value: unknown): string {
  return typeof value === 'string' ? value : Object.keys(value as object)[0];
}

describe('sandboxMachine', () => {
  it('should declare exactly the public states', () => {
    expect(Object.keys(sandboxMachine.root.states)).toEqual([...SANDBOX_STATES]);
  });

  it('should start in pending with the starting operation in flight', () => {
    const actor = start(machineWith([], []));
    const snap = actor.getSnapshot();
    expect(publicState(snap.value)).toBe('pending');
    expect(snap.hasTag('busy')).toBe(true);
    expect(snap.hasTag('starting')).toBe(true);
    actor.stop();
  });

  it('should reach running with the container facts and a history entry', async () => {
    const actor = start();
    const snap = await settle(actor);
    expect(publicState(snap.value)).toBe('running');
    expect(snap.context.containerId).toBe('c1');
    // The injected clock: its first reading stamps the start.
    expect(snap.context.startedAt).toBe('2026-06-01T12:00:00.000Z');
    expect(snap.context.stateHistory).toEqual([
      {
        from: 'pending',
        to: 'running',
        event: 'started',
        at: '2026-06-01T12:00:00.000Z',
        actor: SYSTEM_ACTOR,
      },
    ]);
  });

  it("should name the restore's actor in every entry written under it, and only those", async () => {
    const tenant: Actor = { kind: 'tenant', tenant: 'team-a', keyId: 'key-1' };
    const actor = start(machineWith(), false, { ...RUNC, actor: tenant });
    const running = await settle(actor);
    expect(running.context.stateHistory.map((h) => h.actor)).toEqual([tenant]);
    const persisted = actor.getPersistedSnapshot();
    actor.stop();
    // The next command is sandboxd's own (an idle stop): its entries name the system.
    const restored = createActor(machineWith(), {
      input: { sandboxId: 'sb1', protected: false, facts: RUNC },
      snapshot: restore(persisted, RUNC),
    }).start();
    restored.send({ type: 'stop', reason: 'idle-timeout' });
    const stopped = await settle(restored);
    expect(stopped.context.stateHistory.map((h) => h.actor)).toEqual([tenant, SYSTEM_ACTOR]);
    restored.stop();
  });

  it('should end in stopped with the failure reason when the create fails', async () => {
    const actor = start(machineWith(['createContainer']));
    const snap = await settle(actor);
    expect(publicState(snap.value)).toBe('stopped');
    expect(snap.context.failureReason).toBe('createContainer broke');
    // The coded error itself, as JSON: a restored snapshot still knows the code.
    expect(snap.context.lastFailure).toEqual({
      code: 'RUNTIME_UNAVAILABLE',
      message: 'createContainer broke',
      details: { sandboxId: 'sb1', call: 'createContainer' },
    });
    expect(snap.context.stateHistory[0]).toMatchObject({
      from: 'pending',
      to: 'stopped',
      event: 'startFailed',
      reason: 'createContainer broke',
    });
  });

  it('should go running → stopped → pending → running on stop and restart', async () => {
    const calls: string[] = [];
    const actor = start(machineWith([], calls));
    await settle(actor);
    actor.send({ type: 'stop' });
    expect(actor.getSnapshot().hasTag('stopping')).toBe(true);
    let snap = await settle(actor);
    expect(publicState(snap.value)).toBe('stopped');
    actor.send({ type: 'restart' });
    expect(publicState(actor.getSnapshot().value)).toBe('pending');
    snap = await settle(actor);
    expect(publicState(snap.value)).toBe('running');
    expect(calls).toEqual(['createContainer', 'stopContainer', 'startContainer']);
    expect(snap.context.stateHistory.map((h) => `${h.from}>${h.to}:${h.event}`)).toEqual([
      'pending>running:started',
      'running>stopped:stop',
      'stopped>pending:restart',
      'pending>running:started',
    ]);
  });

  it('should treat stop of a stopped sandbox as a no-op without history', async () => {
    const calls: string[] = [];
    const actor = start(machineWith([], calls));
    await settle(actor);
    actor.send({ type: 'stop', reason: 'idle-timeout' });
    const stopped = await settle(actor);
    expect(stopped.context.stateHistory.at(-1)?.reason).toBe('idle-timeout');
    expect(stopped.can({ type: 'stop' })).toBe(true);
    actor.send({ type: 'stop' });
    const again = actor.getSnapshot();
    expect(again.context.stateHistory).toHaveLength(stopped.context.stateHistory.length);
    expect(calls.filter((c) => c === 'stopContainer')).toHaveLength(1);
  });

  it('should refuse delete of a running sandbox unless forced', async () => {
    const actor = start();
    const running = await settle(actor);
    expect(verdictOf(running, { type: 'delete' })).toMatchObject({
      verdict: 'refused',
      code: 'INVALID_TRANSITION',
      message: 'cannot delete sandbox sb1 in state running',
      details: { sandboxId: 'sb1', state: 'running', event: 'delete' },
    });
    expect(verdictOf(running, { type: 'delete', force: true })).toEqual({ verdict: 'accepted' });
    expect(verdictOf(running, { type: 'restart' })).toMatchObject({ code: 'INVALID_TRANSITION' });
  });

  it('should stop then delete on a forced delete', async () => {
    const calls: string[] = [];
    const actor = start(machineWith([], calls));
    await settle(actor);
    actor.send({ type: 'delete', force: true });
    const snap = await settle(actor);
    expect(publicState(snap.value)).toBe('deleted');
    expect(calls).toEqual(['createContainer', 'stopContainer', 'removeContainer']);
    expect(snap.context.deletedAt).not.toBeNull();
    expect(snap.context.stateHistory.slice(1).map((h) => `${h.from}>${h.to}`)).toEqual([
      'running>stopped',
      'stopped>deleted',
    ]);
  });

  it('should stay stopped with the error when removal fails, and accept a retry', async () => {
    const actor = start(machineWith(['removeContainer']));
    await settle(actor);
    actor.send({ type: 'stop' });
    await settle(actor);
    actor.send({ type: 'delete' });
    const snap = await settle(actor);
    expect(publicState(snap.value)).toBe('stopped');
    expect(snap.context.failureReason).toBe('removeContainer broke');
    expect(snap.can({ type: 'delete' })).toBe(true);
  });

  it('should stay running when the stop fails', async () => {
    const actor = start(machineWith(['stopContainer']));
    await settle(actor);
    actor.send({ type: 'stop' });
    const snap = await settle(actor);
    expect(publicState(snap.value)).toBe('running');
    expect(snap.context.failureReason).toBe('stopContainer broke');
  });

  it('should take a delete of a deleted sandbox as a no-op, and nothing else', async () => {
    const calls: string[] = [];
    const actor = start(machineWith([], calls));
    await settle(actor);
    actor.send({ type: 'delete', force: true });
    const snap = await settle(actor);
    expect(publicState(snap.value)).toBe('deleted');
    for (const event of [{ type: 'delete' }, { type: 'delete', force: true }] as const) {
      expect(verdictOf(snap, event)).toEqual({ verdict: 'no-op' });
    }
    for (const event of [{ type: 'stop' }, { type: 'restart' }] as const) {
      expect(verdictOf(snap, event)).toMatchObject({
        verdict: 'refused',
        code: 'INVALID_TRANSITION',
      });
    }
    actor.send({ type: 'delete' });
    expect(actor.getSnapshot().context).toEqual(snap.context);
    expect(calls.filter((c) => c === 'removeContainer')).toHaveLength(1);
  });

  it('should restore a deleted snapshot persisted while deleted was final (status done)', async () => {
    const actor = start();
    await settle(actor);
    actor.send({ type: 'delete', force: true });
    await settle(actor);
    const persisted = { ...(actor.getPersistedSnapshot() as object), status: 'done' };
    actor.stop();
    const restored = createActor(machineWith(), {
      snapshot: restore(persisted, RUNC),
      input: { sandboxId: 'sb1', protected: false, facts: RUNC },
    }).start();
    const snap = restored.getSnapshot();
    expect(snap.status).toBe('active');
    expect(verdictOf(snap, { type: 'delete' })).toEqual({ verdict: 'no-op' });
    restored.stop();
  });

  it('should refuse a restart on Kata with RESTART_UNSUPPORTED, in any state', async () => {
    const kata: SandboxFacts = {
      runtime: 'kata-runtime',
      autoDeleteSeconds: -1,
      actor: SYSTEM_ACTOR,
    };
    const calls: string[] = [];
    const actor = start(machineWith([], calls), false, kata);
    const running = await settle(actor);
    const refusal = {
      verdict: 'refused',
      code: 'RESTART_UNSUPPORTED',
      message:
        'sandbox sb1 runs on kata-runtime, whose disk image is removed on stop; it cannot be restarted',
      details: { sandboxId: 'sb1', runtime: 'kata-runtime' },
    };
    expect(verdictOf(running, { type: 'restart' })).toEqual(refusal);
    actor.send({ type: 'stop' });
    const stopped = await settle(actor);
    expect(verdictOf(stopped, { type: 'restart' })).toEqual(refusal);
    actor.send({ type: 'restart' });
    expect(calls).not.toContain('startContainer');
    // The runtime is a fact of the record: restored with another one, the rule follows it.
    const runc = restore(actor.getPersistedSnapshot(), RUNC);
    const again = createActor(machineWith(), {
      snapshot: runc,
      input: { sandboxId: 'sb1', protected: false, facts: RUNC },
    });
    expect(verdictOf(again.getSnapshot(), { type: 'restart' })).toEqual({ verdict: 'accepted' });
  });

  describe('the ephemeral delete (effective autoDeleteSeconds 0)', () => {
    const ephemeral: SandboxFacts = { runtime: 'runc', autoDeleteSeconds: 0, actor: SYSTEM_ACTOR };

    it('should delete as soon as the sandbox stops, with reason auto-delete', async () => {
      const calls: string[] = [];
      const actor = start(machineWith([], calls), false, ephemeral);
      await settle(actor);
      actor.send({ type: 'stop' });
      const snap = await settle(actor);
      expect(publicState(snap.value)).toBe('deleted');
      expect(calls).toEqual(['createContainer', 'stopContainer', 'removeContainer']);
      expect(snap.context.stateHistory.slice(1)).toEqual([
        expect.objectContaining({
          from: 'running',
          to: 'stopped',
          event: 'stop',
          reason: 'manual',
        }),
        expect.objectContaining({ from: 'stopped', to: 'deleted', reason: 'auto-delete' }),
      ]);
    });

    it('should delete one whose create failed, or whose container exited', async () => {
      const failed = await settle(start(machineWith(['createContainer']), false, ephemeral));
      expect(publicState(failed.value)).toBe('deleted');
      const actor = start(machineWith(), false, ephemeral);
      await settle(actor);
      actor.send({ type: 'exited', reason: 'container exited with code 1' });
      expect(publicState((await settle(actor)).value)).toBe('deleted');
    });

    it('should never delete a protected one, nor one unprotected after its stop', async () => {
      const calls: string[] = [];
      const actor = start(machineWith([], calls), true, ephemeral);
      await settle(actor);
      actor.send({ type: 'stop' });
      expect(publicState((await settle(actor)).value)).toBe('stopped');
      // Unprotecting leaves it to its auto-delete deadline (the scan), not to this rule.
      actor.send({ type: 'protect', value: false });
      expect(publicState(actor.getSnapshot().value)).toBe('stopped');
      expect(calls).not.toContain('removeContainer');
    });
  });

  describe('what each state allows (tags, read without an actor)', () => {
    it('refuses work with SANDBOX_NOT_RUNNING, saying the state', () => {
      const stopping = { id: 'sb1', state: 'running', operation: 'stopping' } as const;
      expect(capabilityVerdict(stopping, 'exec')).toEqual({
        verdict: 'refused',
        code: 'SANDBOX_NOT_RUNNING',
        message: 'cannot run commands in sandbox sb1: it is running (stopping)',
        details: { sandboxId: 'sb1', state: 'running' },
      });
      const stopped = { id: 'sb1', state: 'stopped', operation: null } as const;
      expect(capabilityVerdict(stopped, 'readFiles')).toEqual({ verdict: 'accepted' });
      expect(capabilityVerdict(stopped, 'keepAlive')).toMatchObject({
        code: 'SANDBOX_NOT_RUNNING',
        message: 'sandbox sb1 is stopped; only a pending or running sandbox can be kept alive',
      });
    });

    it.each([
      ['pending', 'starting', []],
      ['running', null, ['exec', 'writeFiles', 'readFiles', 'keepAlive']],
      ['running', 'stopping', ['keepAlive']],
      ['stopped', null, ['readFiles']],
      ['stopped', 'deleting', []],
      ['deleted', null, []],
    ] as const)('%s (%s) allows %j', (state, operation, allowed) => {
      for (const capability of ['exec', 'writeFiles', 'readFiles', 'keepAlive'] as const) {
        expect(stateAllows({ state, operation }, capability)).toBe(
          (allowed as readonly string[]).includes(capability) ||
            (capability === 'keepAlive' && state === 'pending'),
        );
      }
    });
  });

  it('should re-run the interrupted operation when a busy snapshot is restored', async () => {
    const calls: string[] = [];
    const actor = start(machineWith([], calls));
    await settle(actor);
    actor.send({ type: 'stop' });
    const persisted = JSON.parse(JSON.stringify(actor.getPersistedSnapshot())) as ReturnType<
      typeof actor.getPersistedSnapshot
    >;
    actor.stop();
    const restored = createActor(machineWith([], calls), {
      snapshot: persisted,
      input: { sandboxId: 'sb1', protected: false, facts: RUNC },
    }).start();
    const snap = await settle(restored);
    expect(publicState(snap.value)).toBe('stopped');
    // One by the first actor before it was stopped, one by the restored actor re-running it.
    expect(calls.filter((c) => c === 'stopContainer')).toHaveLength(2);
  });

  it('should keep only the last 100 history entries', async () => {
    const actor = start();
    await settle(actor);
    for (let i = 0; i < 60; i += 1) {
      actor.send({ type: 'stop' });
      await settle(actor);
      actor.send({ type: 'restart' });
      await settle(actor);
    }
    expect(actor.getSnapshot().context.stateHistory).toHaveLength(HISTORY_LIMIT);
  });

  describe('protection', () => {
    const deletes = [
      { type: 'delete' },
      { type: 'delete', force: true },
      { type: 'delete', reason: 'auto-delete' },
    ] as const;

    it('should refuse every delete of a protected sandbox, running or stopped', async () => {
      const calls: string[] = [];
      const actor = start(machineWith([], calls), true);
      const running = await settle(actor);
      expect(running.context.protected).toBe(true);
      for (const event of deletes) {
        expect(verdictOf(running, event)).toEqual({
          verdict: 'refused',
          code: 'SANDBOX_PROTECTED',
          message: 'sandbox sb1 is protected; unset protected (PATCH) before deleting it',
          details: { sandboxId: 'sb1' },
        });
      }
      actor.send({ type: 'stop' });
      const stopped = await settle(actor);
      for (const event of deletes) {
        expect(stopped.can(event)).toBe(false);
        actor.send(event);
      }
      expect(publicState(actor.getSnapshot().value)).toBe('stopped');
      expect(calls).not.toContain('removeContainer');
    });

    it('should allow deletes again once unprotected, and refuse them once protected', async () => {
      const actor = start();
      await settle(actor);
      actor.send({ type: 'protect', value: true });
      expect(actor.getSnapshot().can({ type: 'delete', force: true })).toBe(false);
      actor.send({ type: 'stop' });
      await settle(actor);
      actor.send({ type: 'protect', value: false });
      const stopped = actor.getSnapshot();
      expect(stopped.context.protected).toBe(false);
      expect(verdictOf(stopped, { type: 'delete' })).toEqual({ verdict: 'accepted' });
      actor.send({ type: 'delete' });
      const done = await settle(actor);
      expect(publicState(done.value)).toBe('deleted');
      expect(verdictOf(done, { type: 'protect', value: true })).toMatchObject({
        code: 'INVALID_TRANSITION',
      });
    });

    it('should change protection without a transition or history entry', async () => {
      const actor = start();
      const running = await settle(actor);
      actor.send({ type: 'protect', value: true });
      const after = actor.getSnapshot();
      expect(after.value).toEqual(running.value);
      expect(after.context.stateHistory).toEqual(running.context.stateHistory);
      expect(verdictOf(after, { type: 'protect', value: true })).toEqual({ verdict: 'no-op' });
    });

    it('should not finish a requested delete of a snapshot that became protected', () => {
      // A snapshot of an older build: a forced delete requested, protection seeded afterwards.
      const actor = start();
      const persisted = actor.getPersistedSnapshot() as unknown as { context: object };
      actor.stop();
      const stoppedWithRequest = {
        ...persisted,
        value: { stopped: 'idle' },
        context: { ...persisted.context, deleteRequested: true, protected: true },
      };
      const restored = createActor(machineWith(), {
        snapshot: stoppedWithRequest as never,
        input: { sandboxId: 'sb1', protected: true, facts: RUNC },
      }).start();
      expect(restored.getSnapshot().value).toEqual({ stopped: 'idle' });
      restored.stop();
    });
  });
});
