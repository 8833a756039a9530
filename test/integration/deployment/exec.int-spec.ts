// @app/config's DTO decorators need the Reflect metadata polyfill before anything imports it.
import 'reflect-metadata';
import { isCodedError } from '@app/domain';
import {
  EXEC_MARKER_ENV,
  ExecOutputBudget,
  ExecSession,
  runExec,
  hostViewOf,
  killExecTree,
  type ExecEvent,
  type ExecRequest,
} from '@app/deployment';
import { randomBytes } from 'node:crypto';
import {
  ensureDemoImage,
  execIn,
  newTestInstanceId,
  sweepContainers,
  sweepTestNetworks,
  testDocker,
} from '../../support/docker';
import { demoSpec, deploymentFor, rejectionOf } from './deployment-fixtures';

const instanceId = newTestInstanceId();
const { deployment } = deploymentFor(instanceId, '45000-45009');
const docker = testDocker();
let containerId = '';

const base = { timeoutMs: 10_000, outputLimitBytes: 1 << 20 };
const run = (request: Partial<ExecRequest> & Pick<ExecRequest, 'argv'>) =>
  deployment.exec(containerId, { ...base, ...request });

/** Process lines (busybox ps: PID USER COMMAND) whose command matches, seen from another exec. */
async function processesMatching(pattern: RegExp): Promise<string[]> {
  const listing = await execIn(containerId, ['ps']);
  return listing.output.split('\n').filter((line) => pattern.test(line));
}

/** Cleans up processes a test left on purpose (busybox here has neither pkill nor pidof). */
async function killMatching(pattern: RegExp): Promise<void> {
  const pids = (await processesMatching(pattern)).map((line) => line.trim().split(/\s+/)[0]);
  if (pids.length > 0) await execIn(containerId, ['kill', '-9', ...pids]);
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 3_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}

beforeAll(async () => {
  await ensureDemoImage();
  containerId = (await deployment.provision(demoSpec())).containerId;
});

afterAll(async () => {
  await sweepContainers(instanceId);
  await sweepTestNetworks();
});

describe('DockerDeployment.exec (real engine)', () => {
  it('returns exit code 3 with both streams kept apart', async () => {
    const before = Date.now();
    const result = await run({ argv: ['sh', '-c', 'sleep 1; echo out; echo err >&2; exit 3'] });
    const elapsed = Date.now() - before;
    expect(result.exitCode).toBe(3);
    expect(result.stdout.toString()).toBe('out\n');
    expect(result.stderr.toString()).toBe('err\n');
    expect(result.timedOut).toBe(false);
    expect(result.truncated).toBe(false);
    // Whole milliseconds of the run: at least the sleep, at most the call around it.
    expect(Number.isInteger(result.durationMs)).toBe(true);
    expect(result.durationMs).toBeGreaterThanOrEqual(1000);
    expect(result.durationMs).toBeLessThanOrEqual(elapsed);
  });

  it('runs a program directly, no shell involved', async () => {
    const result = await run({ argv: ['echo', 'a  b', '$HOME'] });
    expect(result.stdout.toString()).toBe('a  b $HOME\n');
  });

  it('feeds stdin and closes it (binary safe)', async () => {
    const bytes = randomBytes(256 * 1024);
    const result = await run({ argv: ['cat'], stdin: bytes });
    expect(result.exitCode).toBe(0);
    expect(result.stdout.equals(bytes)).toBe(true);
    const text = await run({ argv: ['sh', '-c', 'read line; echo "got $line"'], stdin: 'hi\n' });
    expect(text.stdout.toString()).toBe('got hi\n');
  });

  it('applies env, cwd and user', async () => {
    const result = await run({
      argv: ['sh', '-c', 'echo "$GREETING|$(pwd)|$(id -u)"'],
      env: { GREETING: 'hello world' },
      cwd: '/tmp',
      user: '65534',
    });
    expect(result.stdout.toString()).toBe('hello world|/tmp|65534\n');
    const byName = await run({ argv: ['id', '-u'], user: 'nobody' });
    expect(byName.stdout.toString()).toBe('65534\n');
  });

  it('reports a program, directory or user that does not exist as a start failure', async () => {
    for (const request of [
      { argv: ['no-such-program'] },
      { argv: ['true'], cwd: '/no/such/dir' },
      { argv: ['true'], user: 'nosuchuser' },
    ]) {
      const error = await rejectionOf(run(request));
      expect(isCodedError(error, 'EXEC_FAILED')).toBe(true);
    }
  });

  it('rejects invalid requests before reaching the engine', async () => {
    for (const request of [
      { argv: [] },
      { argv: ['true'], timeoutMs: 0 },
      { argv: ['true'], cwd: 'relative' },
      { argv: ['true'], env: { [EXEC_MARKER_ENV]: 'forged' } },
    ]) {
      expect(isCodedError(await rejectionOf(run(request)), 'VALIDATION_FAILED')).toBe(true);
    }
  });

  it('maps a missing container to CONTAINER_MISSING', async () => {
    const error = await rejectionOf(
      deployment.exec('sandboxd-test-no-such-container', { ...base, argv: ['true'] }),
    );
    expect(isCodedError(error, 'CONTAINER_MISSING')).toBe(true);
  });

  it('kills the whole process tree on timeout', async () => {
    const started = Date.now();
    const result = await run({
      argv: ['sh', '-c', 'sleep 1201 & sleep 1202 & echo started; sleep 1203'],
      timeoutMs: 1_000,
    });
    const elapsed = Date.now() - started;
    expect(result.timedOut).toBe(true);
    expect(result.stdout.toString()).toBe('started\n');
    expect(elapsed).toBeLessThan(5_000);
    // SIGKILLed: 128 + 9.
    expect(result.exitCode).toBe(137);
    expect(await processesMatching(/sleep 120[123]/)).toEqual([]);
  });

  it('kills the tree of a process that already left its children behind', async () => {
    // The shell exits at once; its orphaned child keeps the output open until the timeout.
    const result = await run({ argv: ['sh', '-c', 'sleep 1301 & exit 0'], timeoutMs: 800 });
    expect(result.timedOut).toBe(true);
    expect(await processesMatching(/sleep 1301/)).toEqual([]);
  });

  it('kills the tree of a command run as another user', async () => {
    const result = await run({
      argv: ['sh', '-c', 'sleep 1401 & sleep 1402'],
      user: '65534',
      timeoutMs: 800,
    });
    expect(result.timedOut).toBe(true);
    expect(await processesMatching(/sleep 140[12]/)).toEqual([]);
  });

  it('leaves a command that finished in time and its detached children alone', async () => {
    const result = await run({ argv: ['sh', '-c', 'sleep 1501 >/dev/null 2>&1 & echo done'] });
    expect(result.timedOut).toBe(false);
    expect(result.exitCode).toBe(0);
    expect(await processesMatching(/sleep 1501/)).toHaveLength(1);
    await killMatching(/sleep 1501/);
  });

  it('kills the tree when the caller aborts, and rejects with the reason', async () => {
    const abort = new AbortController();
    const pending = run({ argv: ['sh', '-c', 'sleep 1601 & sleep 1602'], timeoutMs: 30_000 });
    void pending.catch(() => undefined);
    const aborted = deployment.exec(
      containerId,
      { ...base, argv: ['sh', '-c', 'sleep 1603 & sleep 1604'], timeoutMs: 30_000 },
      abort.signal,
    );
    await eventually(async () => (await processesMatching(/sleep 160[34]/)).length === 2);
    const started = Date.now();
    abort.abort(new Error('client went away'));
    const error = await rejectionOf(aborted);
    expect((error as Error).message).toBe('client went away');
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await processesMatching(/sleep 160[34]/)).toEqual([]);
    // Another exec's tree is not touched.
    expect(await processesMatching(/sleep 160[12]/)).toHaveLength(2);
    await killMatching(/sleep 160[12]/);
    await pending.catch(() => undefined);
  });

  it('caps each stream, keeps draining, and flags truncation', async () => {
    const result = await run({
      argv: ['sh', '-c', 'yes | head -c 20000000; yes err | head -c 3000000 >&2'],
      outputLimitBytes: 1 << 20,
    });
    expect(result.exitCode).toBe(0);
    expect(result.timedOut).toBe(false);
    expect(result.truncated).toBe(true);
    expect(result.stdout.length).toBe(1 << 20);
    expect(result.stdout.subarray(0, 4).toString()).toBe('y\ny\n');
    expect(result.stderr.length).toBe(1 << 20);
  });

  it('charges the output to a budget, gives it back on release, and fails past it killing the tree', async () => {
    const budget = new ExecOutputBudget(100_000);
    const request = { ...base, argv: ['sh', '-c', 'head -c 60000 /dev/zero'] };
    const ok = await runExec(docker, containerId, request, undefined, undefined, budget);
    expect(ok.stdout.length).toBe(60_000);
    expect(budget.usedBytes).toBe(60_000);
    ok.release();
    expect(budget.usedBytes).toBe(0);
    const error = await rejectionOf(
      runExec(
        docker,
        containerId,
        { ...base, argv: ['sh', '-c', 'head -c 200000 /dev/zero; exec sleep 2101'] },
        undefined,
        undefined,
        budget,
      ),
    );
    expect(isCodedError(error, 'EXEC_OUTPUT_BUDGET_EXHAUSTED')).toBe(true);
    expect(budget.usedBytes).toBe(0);
    expect(await eventually(async () => (await processesMatching(/sleep 2101/)).length === 0)).toBe(
      true,
    );
  });
});

describe('DockerDeployment.execStream (real engine)', () => {
  it('delivers output live, then the exit event', async () => {
    const started = Date.now();
    const stream = await deployment.execStream(containerId, {
      ...base,
      argv: ['sh', '-c', 'for i in 1 2 3 4; do echo line$i; sleep 1; done; echo bye >&2; exit 5'],
    });
    const events: { event: ExecEvent; at: number }[] = [];
    for await (const event of stream) events.push({ event, at: Date.now() - started });
    const firstLine = events.find((e) => e.event.type === 'stdout');
    const exit = events.at(-1);
    expect(firstLine?.at).toBeLessThan(1_500);
    expect(exit?.at).toBeGreaterThanOrEqual(3_500);
    const text = (type: 'stdout' | 'stderr') =>
      events
        .map((e) => e.event)
        .filter((e): e is Extract<ExecEvent, { type: 'stdout' | 'stderr' }> => e.type === type)
        .map((e) => e.data.toString())
        .join('');
    expect(text('stdout')).toBe('line1\nline2\nline3\nline4\n');
    expect(text('stderr')).toBe('bye\n');
    expect(exit?.event).toMatchObject({ type: 'exit', exitCode: 5, timedOut: false });
  });

  it('kills the tree when the consumer breaks out', async () => {
    const stream = await deployment.execStream(containerId, {
      ...base,
      argv: ['sh', '-c', 'sleep 1701 & while true; do echo tick; sleep 0.2; done'],
      timeoutMs: 30_000,
    });
    for await (const event of stream) {
      if (event.type === 'stdout') break;
    }
    expect(await processesMatching(/sleep 1701|while/)).toEqual([]);
  });

  it('times out with the same kill, ending in an exit event', async () => {
    const stream = await deployment.execStream(containerId, {
      ...base,
      argv: ['sh', '-c', 'sleep 1801 & sleep 1802'],
      timeoutMs: 800,
    });
    const events: ExecEvent[] = [];
    for await (const event of stream) events.push(event);
    expect(events.at(-1)).toMatchObject({ type: 'exit', timedOut: true });
    expect(await processesMatching(/sleep 180[12]/)).toEqual([]);
  });

  it('throws the abort reason after killing the tree', async () => {
    const abort = new AbortController();
    const stream = await deployment.execStream(
      containerId,
      { ...base, argv: ['sh', '-c', 'sleep 1901 & echo up; sleep 1902'], timeoutMs: 30_000 },
      abort.signal,
    );
    const error = await rejectionOf(
      (async () => {
        for await (const event of stream) {
          if (event.type === 'stdout') abort.abort(new Error('gone'));
        }
      })(),
    );
    expect((error as Error).message).toBe('gone');
    expect(await processesMatching(/sleep 190[12]/)).toEqual([]);
  });

  it('holds a fast producer back while the consumer does not read, and kills it on break', async () => {
    await execIn(containerId, ['rm', '-f', '/tmp/flood-done']);
    const stream = await deployment.execStream(containerId, {
      ...base,
      outputLimitBytes: 64 << 20,
      argv: ['sh', '-c', 'head -c 30000000 /dev/zero; touch /tmp/flood-done; exec sleep 2201'],
      timeoutMs: 60_000,
    });
    const flagged = async (): Promise<boolean> =>
      (await execIn(containerId, ['ls', '/tmp'])).output.includes('flood-done');
    for await (const event of stream) {
      expect(event.type).toBe('stdout');
      // Unread, 30 MB would be queued here in well under 2 s; paused, the writer stays blocked.
      expect(await eventually(flagged, 2_000)).toBe(false);
      break;
    }
    expect(
      await eventually(async () => (await processesMatching(/head -c|sleep 2201/)).length === 0),
    ).toBe(true);
  });

  it('reports a missing container before streaming starts', async () => {
    const error = await rejectionOf(
      deployment.execStream('sandboxd-test-no-such-container', { ...base, argv: ['true'] }),
    );
    expect(isCodedError(error, 'CONTAINER_MISSING')).toBe(true);
  });
});

describe('killExecTree', () => {
  it('signals from the host when our /proc shows the container, else from inside it', async () => {
    const session = await ExecSession.start(
      docker,
      containerId,
      { ...base, argv: ['sh', '-c', 'sleep 2101 & sleep 2102'], timeoutMs: 30_000 },
      () => undefined,
      { killer: null },
    );
    await eventually(async () => (await processesMatching(/sleep 210[12]/)).length === 2);
    const state = await docker.getContainer(containerId).inspect();
    const hostVisible = (await hostViewOf(state.Id, state.State.Pid)) !== null;
    const report = await killExecTree(session.target);
    expect(report).toMatchObject({ method: hostVisible ? 'host' : 'container', remaining: 0 });
    expect(await processesMatching(/sleep 210[12]/)).toEqual([]);
    await session.done;
  });

  it.each([
    ['the container user', undefined],
    ['another user', '65534'],
  ])(
    'without the host path, kills with the sh, grep and kill of the image (%s)',
    async (_, user) => {
      const session = await ExecSession.start(
        docker,
        containerId,
        { ...base, argv: ['sh', '-c', 'sleep 2001 & sleep 2002'], user, timeoutMs: 30_000 },
        () => undefined,
        { killer: null },
      );
      await eventually(async () => (await processesMatching(/sleep 200[12]/)).length === 2);
      const report = await killExecTree(session.target, { allowHost: false });
      expect(report).toMatchObject({ method: 'container', remaining: 0 });
      // busybox sh execs its last command itself: two sleeps are the whole tree.
      expect(report.killed).toBeGreaterThanOrEqual(2);
      expect(await processesMatching(/sleep 200[12]/)).toEqual([]);
      const outcome = await session.done;
      expect(outcome.exitCode).toBe(137);
    },
  );
});
