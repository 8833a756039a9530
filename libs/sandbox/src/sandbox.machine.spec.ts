import { createActor, fromPromise, waitFor } from 'xstate';
import { SANDBOX_STATES } from '@app/domain';
import {
  ContainerFacts,
  ContainerRef,
  HISTORY_LIMIT,
  SandboxRef,
  refusalOf,
  sandboxMachine,
} from './sandbox.machine';

const facts: ContainerFacts = { containerId: 'c1', ports: { '8080': 30001 }, host: '127.0.0.1' };

/** A machine whose effects are fakes; `fail` names the actors that reject. */
function machineWith(fail: string[] = [], calls: string[] = []) {
  const effect = <O, I>(name: string, output: O) =>
    fromPromise<O, I>(() => {
      calls.push(name);
      return fail.includes(name)
        ? Promise.reject(new Error(`${name} broke`))
        : Promise.resolve(output);
    });
  return sandboxMachine.provide({
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

function start(machine = machineWith(), protectedAtCreate = false) {
  return createActor(machine, {
    input: { sandboxId: 'sb1', protected: protectedAtCreate },
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
    expect(snap.context.startedAt).not.toBeNull();
    expect(snap.context.stateHistory).toEqual([
      expect.objectContaining({ from: 'pending', to: 'running', event: 'started' }),
    ]);
  });

  it('should end in stopped with the failure reason when the create fails', async () => {
    const actor = start(machineWith(['createContainer']));
    const snap = await settle(actor);
    expect(publicState(snap.value)).toBe('stopped');
    expect(snap.context.failureReason).toBe('createContainer broke');
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
    expect(running.can({ type: 'delete' })).toBe(false);
    expect(running.can({ type: 'delete', force: true })).toBe(true);
    expect(running.can({ type: 'restart' })).toBe(false);
  });

  it('should stop then delete on a forced delete', async () => {
    const calls: string[] = [];
    const actor = start(machineWith([], calls));
    await settle(actor);
    actor.send({ type: 'delete', force: true });
    const snap = await waitFor(actor, (s) => s.status === 'done');
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

  it('should accept no command in the final deleted state', async () => {
    const actor = start();
    await settle(actor);
    actor.send({ type: 'delete', force: true });
    const snap = await waitFor(actor, (s) => s.status === 'done');
    for (const event of [{ type: 'stop' }, { type: 'restart' }, { type: 'delete' }] as const) {
      expect(snap.can(event)).toBe(false);
    }
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
      input: { sandboxId: 'sb1' },
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
        expect(running.can(event)).toBe(false);
        expect(refusalOf(running.context, event)).toBe('protected');
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
      expect(stopped.can({ type: 'delete' })).toBe(true);
      expect(refusalOf(stopped.context, { type: 'delete' })).toBeNull();
      actor.send({ type: 'delete' });
      const done = await waitFor(actor, (s) => s.status === 'done');
      expect(publicState(done.value)).toBe('deleted');
      expect(done.can({ type: 'protect', value: true })).toBe(false);
    });

    it('should change protection without a transition or history entry', async () => {
      const actor = start();
      const running = await settle(actor);
      actor.send({ type: 'protect', value: true });
      const after = actor.getSnapshot();
      expect(after.value).toEqual(running.value);
      expect(after.context.stateHistory).toEqual(running.context.stateHistory);
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
        input: { sandboxId: 'sb1' },
      }).start();
      expect(restored.getSnapshot().value).toEqual({ stopped: 'idle' });
      restored.stop();
    });
  });
});
