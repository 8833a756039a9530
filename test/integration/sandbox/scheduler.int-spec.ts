import { SandboxAutomation, SandboxReconciler } from '@app/sandbox';
import type { ScanResult } from '@app/sandbox';
import { Harness, SqliteBacking, bootHarness, sqliteBacking } from './support';

/** A moment on a slot boundary of every interval below (10 s and 60 s). */
const START = 1_800_000_000_000;
const NOTHING: ScanResult = { scanned: 0, done: 0, skipped: 0, busy: 0, failed: 0 };
const SCHEDULED = {
  SCHEDULER_ENABLED: 'true',
  SCHEDULER_INTERVAL_SECONDS: '10',
  RECONCILE_INTERVAL_SECONDS: '60',
  DOCKER_EVENTS: 'false',
};

/**
 * Two LifecycleSchedulers ("processes") on one store: the same SQLite database and the same
 * key-value store (where slots are claimed and task locks taken). Time is Jest's fake clock,
 * so every interval fires exactly when the test advances it. The scans themselves are spied on
 * (and answer at once): what is under test is how often the schedulers start them.
 */
describe('LifecycleScheduler on a shared store', () => {
  let backing: SqliteBacking;
  let processes: Harness[] = [];
  let autoStop: jest.SpyInstance;
  let autoDelete: jest.SpyInstance;
  let reconcile: jest.SpyInstance;

  beforeEach(async () => {
    backing = await sqliteBacking(); // migrations on real timers
    autoStop = jest.spyOn(SandboxAutomation.prototype, 'autoStopDue').mockResolvedValue(NOTHING);
    autoDelete = jest
      .spyOn(SandboxAutomation.prototype, 'autoDeleteDue')
      .mockResolvedValue(NOTHING);
    reconcile = jest.spyOn(SandboxReconciler.prototype, 'run').mockResolvedValue([]);
    jest.useFakeTimers({ now: START, doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  });

  afterEach(async () => {
    const running = processes.reverse();
    processes = [];
    for (const h of running) await h.close();
    jest.useRealTimers();
    jest.restoreAllMocks();
    await backing.close();
  });

  async function boot(count: number, env: Record<string, string> = SCHEDULED): Promise<void> {
    const first = await bootHarness({ backing, env, scheduler: true });
    processes.push(first);
    for (let i = 1; i < count; i += 1) {
      processes.push(await bootHarness({ backing, kv: first.kv, env, scheduler: true }));
    }
    await jest.advanceTimersByTimeAsync(0);
  }

  it('runs each scan once per interval slot across two processes', async () => {
    await boot(2);
    // Both processes start a reconcile pass at boot; one claims the slot.
    expect(reconcile).toHaveBeenCalledTimes(1);
    expect(autoStop).not.toHaveBeenCalled();

    await jest.advanceTimersByTimeAsync(10_000);
    expect(autoStop).toHaveBeenCalledTimes(1);
    expect(autoDelete).toHaveBeenCalledTimes(1);

    await jest.advanceTimersByTimeAsync(50_000);
    // Six 10 s slots, each run by exactly one of the two processes (twelve ticks in all).
    expect(autoStop).toHaveBeenCalledTimes(6);
    expect(autoDelete).toHaveBeenCalledTimes(6);
    // The 60 s reconcile slot came once, besides the boot pass.
    expect(reconcile).toHaveBeenCalledTimes(2);
  });

  it('keeps running the scans when one of two processes stops', async () => {
    await boot(2);
    await jest.advanceTimersByTimeAsync(10_000);
    await processes.shift()!.close();

    await jest.advanceTimersByTimeAsync(30_000);

    expect(autoStop).toHaveBeenCalledTimes(4);
  });

  it('does not start a scan again while the last one is still running', async () => {
    let finish: (result: ScanResult) => void = () => undefined;
    autoStop.mockImplementation(() => new Promise<ScanResult>((resolve) => (finish = resolve)));
    await boot(1);

    await jest.advanceTimersByTimeAsync(50_000);
    expect(autoStop).toHaveBeenCalledTimes(1);

    finish(NOTHING);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(autoStop).toHaveBeenCalledTimes(2);
    finish(NOTHING); // the second pass, so shutdown need not wait for it
  });

  it('goes on with the next slot after a scan failed', async () => {
    autoStop.mockRejectedValueOnce(new Error('database went away'));
    await boot(1);

    await jest.advanceTimersByTimeAsync(20_000);

    expect(autoStop).toHaveBeenCalledTimes(2);
    expect(autoDelete).toHaveBeenCalledTimes(2);
  });

  it('follows Docker events instead of a boot pass when DOCKER_EVENTS=true', async () => {
    const watch = jest
      .spyOn(SandboxReconciler.prototype, 'watch')
      .mockReturnValue({ stop: jest.fn() });
    await boot(2, { ...SCHEDULED, DOCKER_EVENTS: 'true' });

    // Every process watches its own engine's stream; the periodic pass still runs once per slot.
    expect(watch).toHaveBeenCalledTimes(2);
    expect(reconcile).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(60_000);
    expect(reconcile).toHaveBeenCalledTimes(1);
  });

  it('runs nothing when SCHEDULER_ENABLED=false', async () => {
    await boot(2, { ...SCHEDULED, SCHEDULER_ENABLED: 'false' });

    await jest.advanceTimersByTimeAsync(120_000);

    expect(autoStop).not.toHaveBeenCalled();
    expect(autoDelete).not.toHaveBeenCalled();
    expect(reconcile).not.toHaveBeenCalled();
  });
});
