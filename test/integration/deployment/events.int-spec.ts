// @app/config's DTO decorators need the Reflect metadata polyfill before anything imports it.
import 'reflect-metadata';
import { exitReason, type ContainerEventStream } from '@app/deployment';
import {
  ensureDemoImage,
  execIn,
  newTestInstanceId,
  sweepContainers,
  sweepTestNetworks,
  testDocker,
  testDockerSocketPath,
} from '../../support/docker';
import { demoSpec, deploymentFor } from './deployment-fixtures';
import { EventRecorder } from './event-recorder';
import { SocketProxy } from './socket-proxy';

const instanceId = newTestInstanceId();
const { deployment } = deploymentFor(instanceId, '44000-44099');
const docker = testDocker();
/** The brief's bound for an event to reach the handler after the engine acted. */
const EVENT_DEADLINE_MS = 2_000;
const MIB = 1024 * 1024;

let streams: ContainerEventStream[] = [];

/** Starts a stream for this file's containers only, stopped again after the test. */
function watch(
  recorder: EventRecorder,
  on = deployment,
  backoff: { minBackoffMs?: number; maxBackoffMs?: number } = {},
): ContainerEventStream {
  const stream = on.watchEvents(recorder.onEvent, recorder.onResync, {
    filter: { instanceId },
    ...backoff,
  });
  streams.push(stream);
  return stream;
}

/** A running demo sandbox, made by the code under test. */
async function runningSandbox(
  overrides: Parameters<typeof demoSpec>[0] = {},
): Promise<{ sandboxId: string; containerId: string }> {
  const spec = demoSpec(overrides);
  const state = await deployment.provision(spec);
  return { sandboxId: spec.sandboxId, containerId: state.containerId };
}

beforeAll(async () => {
  await ensureDemoImage();
});

afterEach(() => {
  for (const stream of streams) stream.stop();
  streams = [];
});

afterAll(async () => {
  await deployment.onModuleDestroy();
  await sweepContainers(instanceId);
  await sweepTestNetworks();
});

describe('container events (real engine)', () => {
  it('calls onResync once subscribed', async () => {
    const recorder = new EventRecorder();
    watch(recorder);
    await recorder.waitForResyncs(1, EVENT_DEADLINE_MS);
    expect(recorder.resyncs).toBe(1);
  });

  it('reports docker kill as a die with a non-zero exit code, then docker rm -f as destroy', async () => {
    const { sandboxId, containerId } = await runningSandbox();
    const recorder = new EventRecorder();
    watch(recorder);
    await recorder.waitForResyncs(1, EVENT_DEADLINE_MS);

    const killedAt = Date.now();
    await docker.getContainer(containerId).kill();
    const died = await recorder.waitFor(
      (e) => e.action === 'die' && e.sandboxId === sandboxId,
      EVENT_DEADLINE_MS,
    );
    expect(died.receivedAt - killedAt).toBeLessThan(EVENT_DEADLINE_MS);
    expect(died).toMatchObject({ containerId, instanceId, exitCode: 137 });
    expect(died.at.getTime()).toBeGreaterThanOrEqual(killedAt - 1_000);

    // What a reconcile sees for it: everything needed to judge the drift and explain it.
    const [state] = await deployment.listOwned({ instanceId, sandboxId });
    expect(state).toMatchObject({
      containerId,
      running: false,
      status: 'exited',
      exitCode: 137,
      oomKilled: false,
      sandboxId,
      instanceId,
    });
    expect(Date.parse(state.createdAt ?? '')).toBeLessThanOrEqual(killedAt);
    expect(Date.parse(state.finishedAt ?? '')).toBeGreaterThanOrEqual(killedAt - 1_000);
    expect(exitReason(state)).toBe('container exited with code 137 (killed by SIGKILL)');

    const removedAt = Date.now();
    await docker.getContainer(containerId).remove({ force: true });
    const destroyed = await recorder.waitFor(
      (e) => e.action === 'destroy' && e.sandboxId === sandboxId,
      EVENT_DEADLINE_MS,
    );
    expect(destroyed.receivedAt - removedAt).toBeLessThan(EVENT_DEADLINE_MS);
    expect(destroyed).toMatchObject({ containerId, exitCode: null });
    expect(exitReason(await deployment.inspect(containerId))).toBe(
      'container was removed outside sandboxd',
    );
  });

  it('reports an OOM kill as oom (and die), with oomKilled set on the container', async () => {
    // The hog waits for a signal file: provision's start-up check must see it running first.
    const { sandboxId, containerId } = await runningSandbox({
      memoryBytes: 16 * MIB,
      command: [
        'sh',
        '-c',
        'while [ ! -f /tmp/go ]; do sleep 1; done; x=a; while true; do x="$x$x"; done',
      ],
    });
    const recorder = new EventRecorder();
    watch(recorder);
    await recorder.waitForResyncs(1, EVENT_DEADLINE_MS);

    const triggeredAt = Date.now();
    await execIn(containerId, ['touch', '/tmp/go']);
    // The shell polls the file once a second, so allow that on top of the event deadline.
    const oom = await recorder.waitFor(
      (e) => e.action === 'oom' && e.sandboxId === sandboxId,
      EVENT_DEADLINE_MS + 1_000,
    );
    expect(oom.receivedAt - triggeredAt).toBeLessThan(EVENT_DEADLINE_MS + 1_000);
    expect(oom).toMatchObject({ containerId, exitCode: null });
    const died = await recorder.waitFor(
      (e) => e.action === 'die' && e.sandboxId === sandboxId,
      EVENT_DEADLINE_MS,
    );
    expect(died.exitCode).toBe(137);

    const state = await deployment.inspect(containerId);
    expect(state).toMatchObject({ running: false, exitCode: 137, oomKilled: true });
    expect(exitReason(state)).toBe('container exited with code 137 (OOM-killed)');
  });

  it('delivers new events after stop() and start(), but not those sent while stopped', async () => {
    const missed = await runningSandbox();
    const seen = await runningSandbox();
    const recorder = new EventRecorder();
    const stream = watch(recorder);
    await recorder.waitForResyncs(1, EVENT_DEADLINE_MS);

    stream.stop();
    stream.stop();
    await docker.getContainer(missed.containerId).kill();
    stream.start();
    // The resync is how a restarted stream learns about the kill it did not see.
    await recorder.waitForResyncs(2, EVENT_DEADLINE_MS);
    await docker.getContainer(seen.containerId).kill();
    await recorder.waitFor(
      (e) => e.action === 'die' && e.sandboxId === seen.sandboxId,
      EVENT_DEADLINE_MS,
    );
    expect(recorder.events.filter((e) => e.sandboxId === missed.sandboxId)).toEqual([]);
  });

  it('a second watchEvents after the first was stopped gets events too', async () => {
    const { sandboxId, containerId } = await runningSandbox();
    const first = new EventRecorder();
    watch(first).stop();
    const second = new EventRecorder();
    watch(second);
    await second.waitForResyncs(1, EVENT_DEADLINE_MS);
    await docker.getContainer(containerId).kill();
    await second.waitFor((e) => e.action === 'die' && e.sandboxId === sandboxId, EVENT_DEADLINE_MS);
    expect(first.events).toEqual([]);
  });
});

describe('container events when the engine goes away (socket relay)', () => {
  const proxy = new SocketProxy(testDockerSocketPath());
  const { deployment: relayed } = deploymentFor(instanceId, '44000-44099', {
    DOCKER_SOCKET_PATH: proxy.path,
  });
  const backoff = { minBackoffMs: 100, maxBackoffMs: 400 };

  beforeAll(async () => {
    await proxy.resume();
  });

  afterAll(async () => {
    await relayed.onModuleDestroy();
    await proxy.pause();
  });

  it('reconnects and resyncs when the connection is cut, then delivers events again', async () => {
    const { sandboxId, containerId } = await runningSandbox();
    const recorder = new EventRecorder();
    watch(recorder, relayed, backoff);
    await recorder.waitForResyncs(1, EVENT_DEADLINE_MS);

    proxy.drop();
    await recorder.waitForResyncs(2, EVENT_DEADLINE_MS);
    await docker.getContainer(containerId).kill();
    await recorder.waitFor(
      (e) => e.action === 'die' && e.sandboxId === sandboxId,
      EVENT_DEADLINE_MS,
    );
  });

  it('keeps retrying while the engine is down and resyncs once it is back', async () => {
    const { sandboxId, containerId } = await runningSandbox();
    const recorder = new EventRecorder();
    watch(recorder, relayed, backoff);
    await recorder.waitForResyncs(1, EVENT_DEADLINE_MS);

    await proxy.pause();
    // Several failed attempts at 100, 200, 400, 400 ms; none may count as a resync.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(recorder.resyncs).toBe(1);
    // Events while down are lost; the resync after reconnecting is what covers them.
    await docker.getContainer(containerId).kill();
    await proxy.resume();
    await recorder.waitForResyncs(2, backoff.maxBackoffMs + EVENT_DEADLINE_MS);
    expect(recorder.events.filter((e) => e.sandboxId === sandboxId)).toEqual([]);

    const later = await runningSandbox();
    await docker.getContainer(later.containerId).kill();
    await recorder.waitFor(
      (e) => e.action === 'die' && e.sandboxId === later.sandboxId,
      EVENT_DEADLINE_MS,
    );
  });
});
