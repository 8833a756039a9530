import { Actor, SYSTEM_ACTOR, ANONYMOUS_ACTOR } from '@app/domain';
import { SandboxEventLog, sandboxLockKey } from '@app/meta-store';
import { SandboxEvent, SandboxEvents } from '@app/sandbox';
// The pipeline itself is internal to the library; this spec drives it as SandboxService does.
import { SandboxCommands } from '../../../libs/sandbox/src/sandbox-commands';
import { Harness, bootHarness, containerIdOf, freezeClock, targets, until } from './support';

const T0 = '2026-06-01T12:00:00.000Z';
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000);

/** The container ids Docker was asked to stop, in order. */
function stopped(h: Harness): string[] {
  return targets(h.deployment.stop);
}

describe('SandboxAutomation deadline scans on the real store', () => {
  let h: Harness;

  /** Boots with Date frozen at T0, so every deadline below is exact. */
  async function boot(env: Record<string, string> = {}): Promise<(iso: string) => void> {
    const setNow = freezeClock(T0);
    h = await bootHarness({
      env: { SCHEDULER_CONCURRENCY: '1', AUTO_DELETE_AFTER_SECONDS: '-1', ...env },
    });
    return setNow;
  }

  afterEach(async () => {
    await h.close();
    jest.useRealTimers();
  });

  it('auto-stops exactly the sandboxes whose idle deadline passed, oldest deadline first', async () => {
    await boot();
    // Created in an order that is neither the deadline order nor the id order.
    const late = await h.createRunning({ idleTimeoutSeconds: 300 });
    const first = await h.createRunning({ idleTimeoutSeconds: 100 });
    const second = await h.createRunning({ idleTimeoutSeconds: 200 });

    const result = await h.automation.autoStopDue(at(250));

    expect(result).toEqual({ scanned: 2, done: 2, skipped: 0, busy: 0, failed: 0 });
    expect(stopped(h)).toEqual([containerIdOf(first.id), containerIdOf(second.id)]);
    for (const id of [first.id, second.id]) {
      const info = await h.info(id);
      expect(info).toMatchObject({ state: 'stopped', operation: null });
      // The scan is sandboxd's own work: its entry names the system as the actor.
      expect(info.stateHistory.at(-1)).toMatchObject({
        to: 'stopped',
        reason: 'idle-timeout',
        actor: SYSTEM_ACTOR,
      });
    }
    expect((await h.info(late.id)).state).toBe('running');
  });

  it('takes at most SCHEDULER_BATCH_SIZE sandboxes per scan, the oldest deadlines first', async () => {
    await boot({ SCHEDULER_BATCH_SIZE: '2' });
    const c = await h.createRunning({ idleTimeoutSeconds: 300 });
    const a = await h.createRunning({ idleTimeoutSeconds: 100 });
    const b = await h.createRunning({ idleTimeoutSeconds: 200 });

    expect(await h.automation.autoStopDue(at(1000))).toMatchObject({ scanned: 2, done: 2 });
    expect(stopped(h)).toEqual([containerIdOf(a.id), containerIdOf(b.id)]);
    expect((await h.info(c.id)).state).toBe('running');

    expect(await h.automation.autoStopDue(at(1000))).toMatchObject({ scanned: 1, done: 1 });
    expect((await h.info(c.id)).state).toBe('stopped');
    expect(await h.automation.autoStopDue(at(1000))).toMatchObject({ scanned: 0 });
  });

  it("names a command's actor in its history entries and in the events it publishes", async () => {
    await boot();
    const tenant: Actor = { kind: 'tenant', tenant: 'team-a', keyId: 'key-1' };
    const sandbox = await h.createRunning({ idleTimeoutSeconds: 300 }, tenant);
    const published: SandboxEvent[] = [];
    const unsubscribe = h.moduleRef.get(SandboxEvents).subscribe((e) => published.push(e));
    const commands = h.moduleRef.get(SandboxCommands);

    await commands.record({
      sandboxId: sandbox.id,
      lock: 'wait',
      actor: tenant,
      event: { type: 'stop' },
    });
    unsubscribe();

    const entry = (await h.info(sandbox.id)).stateHistory.at(-1);
    expect(entry).toMatchObject({ to: 'stopped', event: 'stop', actor: tenant });
    expect(published).toEqual([
      expect.objectContaining({
        sandboxId: sandbox.id,
        type: 'sandbox.stopped',
        reason: 'manual',
        actor: tenant,
        tenant: 'team-a',
      }),
    ]);
  });

  it('writes each stop to the event log with its reason: idle, lifetime, manual', async () => {
    await boot();
    const idle = await h.createRunning({ idleTimeoutSeconds: 30 });
    const old = await h.createRunning({ idleTimeoutSeconds: 3600, maxLifetimeSeconds: 60 });
    const manual = await h.createRunning({ idleTimeoutSeconds: 3600 });
    expect(await h.automation.autoStopDue(at(61))).toMatchObject({ done: 2 });
    await h.sandboxes.stop(ANONYMOUS_ACTOR, manual.id);
    const log = h.moduleRef.get(SandboxEventLog);
    const stops = await log.list({ types: ['sandbox.stopped'], limit: 100 });
    const reasonOf = (id: string) => stops.find((e) => e.sandboxId === id);
    expect(reasonOf(idle.id)).toMatchObject({ reason: 'idle', actor: SYSTEM_ACTOR });
    expect(reasonOf(old.id)).toMatchObject({ reason: 'lifetime', detail: 'max-lifetime' });
    expect(reasonOf(manual.id)).toMatchObject({ reason: 'manual', actor: ANONYMOUS_ACTOR });
    const all = await log.list({ sandboxId: idle.id, limit: 100 });
    expect(all.map((e) => e.type)).toEqual([
      'sandbox.created',
      'sandbox.running',
      'sandbox.stopped',
    ]);
  });

  it('stops a sandbox at its max lifetime however active it is', async () => {
    await boot();
    const sandbox = await h.createRunning({ idleTimeoutSeconds: 3600, maxLifetimeSeconds: 60 });

    expect(await h.automation.autoStopDue(at(59))).toMatchObject({ scanned: 0 });
    expect(await h.automation.autoStopDue(at(61))).toMatchObject({ done: 1 });
    expect((await h.info(sandbox.id)).stateHistory.at(-1)).toMatchObject({
      to: 'stopped',
      reason: 'max-lifetime',
    });
  });

  it('skips a sandbox whose lock is held (busy) and stops it on a later scan', async () => {
    await boot();
    const sandbox = await h.createRunning({ idleTimeoutSeconds: 100 });
    let release: () => void = () => undefined;
    const held = h.lock.withLock(sandbox.id, () => new Promise<void>((r) => (release = r)));
    await until(async () =>
      (await h.kv.get(sandboxLockKey(sandbox.id))) === null ? undefined : true,
    );

    expect(await h.automation.autoStopDue(at(200))).toEqual({
      scanned: 1,
      done: 0,
      skipped: 0,
      busy: 1,
      failed: 0,
    });
    expect((await h.info(sandbox.id)).state).toBe('running');
    expect(h.deployment.stop).not.toHaveBeenCalled();

    release();
    await held;
    expect(await h.automation.autoStopDue(at(200))).toMatchObject({ done: 1, busy: 0 });
    expect((await h.info(sandbox.id)).state).toBe('stopped');
  });

  it('re-checks each sandbox under its lock: one stopped after the due query is skipped', async () => {
    await boot();
    const sandbox = await h.createRunning({ idleTimeoutSeconds: 100 });
    const query = h.store.dueForAutoStop.bind(h.store);
    // A user's stop lands between the scan's query and its lock.
    jest.spyOn(h.store, 'dueForAutoStop').mockImplementation(async (now, limit) => {
      const ids = await query(now, limit);
      await h.sandboxes.stop(ANONYMOUS_ACTOR, sandbox.id);
      return ids;
    });

    expect(await h.automation.autoStopDue(at(200))).toMatchObject({
      scanned: 1,
      skipped: 1,
      done: 0,
    });
    expect(h.deployment.stop).toHaveBeenCalledTimes(1);
    expect((await h.info(sandbox.id)).stateHistory.at(-1)).toMatchObject({ reason: 'manual' });
  });

  it('re-checks the deadline under the lock: activity after the due query wins', async () => {
    const setNow = await boot();
    const sandbox = await h.createRunning({ idleTimeoutSeconds: 100 });
    const query = h.store.dueForAutoStop.bind(h.store);
    jest.spyOn(h.store, 'dueForAutoStop').mockImplementation(async (now, limit) => {
      const ids = await query(now, limit);
      setNow(at(150).toISOString());
      await h.sandboxes.keepAlive(ANONYMOUS_ACTOR, sandbox.id); // deadline now T0+250 s
      return ids;
    });

    expect(await h.automation.autoStopDue(at(200))).toMatchObject({ scanned: 1, skipped: 1 });
    expect((await h.info(sandbox.id)).state).toBe('running');
    expect(h.deployment.stop).not.toHaveBeenCalled();
  });

  it('stops a sandbox at the max lifetime it was given later, not the one it was created with', async () => {
    const setNow = await boot();
    const sandbox = await h.createRunning({ idleTimeoutSeconds: 0, maxLifetimeSeconds: 100 });
    setNow(at(50).toISOString());
    const moved = await h.sandboxes.setMaxLifetime(ANONYMOUS_ACTOR, sandbox.id, 300);
    expect(moved).toMatchObject({ maxLifetimeSeconds: 300, autoStopAt: at(300).toISOString() });

    expect(await h.automation.autoStopDue(at(200))).toMatchObject({ scanned: 0 });
    expect((await h.info(sandbox.id)).state).toBe('running');
    expect(await h.automation.autoStopDue(at(300))).toMatchObject({ done: 1 });
    expect((await h.info(sandbox.id)).stateHistory.at(-1)).toMatchObject({
      reason: 'max-lifetime',
    });
  });

  it('refuses a new max lifetime for a sandbox that is not live, or of less than a second', async () => {
    await boot();
    const sandbox = await h.createRunning();
    await expect(h.sandboxes.setMaxLifetime(ANONYMOUS_ACTOR, sandbox.id, 0)).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    await h.sandboxes.stop(ANONYMOUS_ACTOR, sandbox.id);
    await expect(h.sandboxes.setMaxLifetime(ANONYMOUS_ACTOR, sandbox.id, 60)).rejects.toMatchObject(
      {
        code: 'SANDBOX_NOT_RUNNING',
      },
    );
    expect((await h.info(sandbox.id)).maxLifetimeSeconds).toBeNull();
  });

  it('counts a failed stop as failed and keeps the sandbox for the next scan', async () => {
    await boot();
    const sandbox = await h.createRunning({ idleTimeoutSeconds: 100 });
    h.deployment.stop.mockRejectedValueOnce(new Error('engine said no'));

    expect(await h.automation.autoStopDue(at(200))).toMatchObject({ failed: 1, done: 0 });
    expect((await h.info(sandbox.id)).state).toBe('running');

    expect(await h.automation.autoStopDue(at(200))).toMatchObject({ done: 1 });
    expect((await h.info(sandbox.id)).state).toBe('stopped');
  });

  it('auto-deletes stopped sandboxes past their deadline, never a protected one', async () => {
    const setNow = await boot({ AUTO_DELETE_AFTER_SECONDS: '60' });
    const plain = await h.createRunning();
    const guarded = await h.createRunning({ protected: true });
    const recent = await h.createRunning();
    await h.sandboxes.stop(ANONYMOUS_ACTOR, plain.id);
    await h.sandboxes.stop(ANONYMOUS_ACTOR, guarded.id);
    setNow(at(30).toISOString());
    await h.sandboxes.stop(ANONYMOUS_ACTOR, recent.id);
    h.deployment.remove.mockClear();

    const result = await h.automation.autoDeleteDue(at(70));

    expect(result).toMatchObject({ done: 1, failed: 0 });
    expect(targets(h.deployment.remove)).toEqual([containerIdOf(plain.id)]);
    expect((await h.info(plain.id)).state).toBe('deleted');
    expect((await h.info(guarded.id)).state).toBe('stopped');
    expect((await h.info(recent.id)).state).toBe('stopped');

    // Long after every deadline the protected one is still kept.
    await h.automation.autoDeleteDue(at(100_000));
    expect((await h.info(guarded.id)).state).toBe('stopped');
    expect((await h.info(recent.id)).state).toBe('deleted');
  });

  it('re-checks protection under the lock: protected after the due query, it is kept', async () => {
    await boot({ AUTO_DELETE_AFTER_SECONDS: '60' });
    const sandbox = await h.createRunning();
    await h.sandboxes.stop(ANONYMOUS_ACTOR, sandbox.id);
    const query = h.store.dueForAutoDelete.bind(h.store);
    jest.spyOn(h.store, 'dueForAutoDelete').mockImplementation(async (now, limit) => {
      const ids = await query(now, limit);
      await h.sandboxes.setProtected(ANONYMOUS_ACTOR, sandbox.id, true);
      return ids;
    });
    h.deployment.remove.mockClear();

    expect(await h.automation.autoDeleteDue(at(100))).toMatchObject({ scanned: 1, skipped: 1 });
    expect((await h.info(sandbox.id)).state).toBe('stopped');
    expect(h.deployment.remove).not.toHaveBeenCalled();
  });

  it('does not auto-delete a running sandbox, whatever its delete delay', async () => {
    await boot({ AUTO_DELETE_AFTER_SECONDS: '0' });
    const running = await h.createRunning({ idleTimeoutSeconds: 100, autoDeleteSeconds: 10 });

    expect(await h.automation.autoDeleteDue(at(50))).toMatchObject({ done: 0 });
    expect((await h.info(running.id)).state).toBe('running');
    expect(h.deployment.remove).not.toHaveBeenCalled();
  });
});
