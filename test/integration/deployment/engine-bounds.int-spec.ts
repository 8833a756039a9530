// @app/config's DTO decorators need the Reflect metadata polyfill before anything imports it.
import 'reflect-metadata';
import { CodedError, isCodedError } from '@app/domain';
import {
  ensureDemoImage,
  newTestInstanceId,
  sweepContainers,
  sweepTestNetworks,
  testDocker,
  testDockerSocketPath,
} from '../../support/docker';
import { eventually } from '../../support/app';
import { demoSpec, deploymentFor, rejectionOf } from './deployment-fixtures';
import { SocketProxy } from './socket-proxy';

/**
 * Every engine call has a bound: an engine that takes a call and never answers it (the relay
 * holds the request) makes the call fail with ENGINE_TIMEOUT, and the request to dockerd is
 * aborted, not left pending. Containers are set up through the engine directly; only the call
 * under test goes through the relay, with only its own bound made short.
 */
const instanceId = newTestInstanceId();
const PORTS = '46200-46299';
const { deployment: direct } = deploymentFor(instanceId, PORTS);
const proxy = new SocketProxy(testDockerSocketPath());

/** A deployment talking through the relay, with one kind of call bounded to one second. */
function boundedThroughProxy(variable: string) {
  return deploymentFor(instanceId, PORTS, {
    DOCKER_SOCKET_PATH: proxy.path,
    [variable]: '1',
  }).deployment;
}

async function runningContainer(): Promise<string> {
  return (await direct.provision(demoSpec())).containerId;
}

/** The (first) request the relay held settles as aborted by its client. */
async function expectHeldAndAborted(method: string): Promise<void> {
  await eventually(() => Promise.resolve(proxy.stalled[0]?.aborted || undefined));
  expect(proxy.stalled[0]).toMatchObject({ method, aborted: true });
}

function expectTimeout(error: unknown, call: string): void {
  expect(isCodedError(error, 'ENGINE_TIMEOUT')).toBe(true);
  expect((error as CodedError).details).toMatchObject({ call });
  expect((error as Error).message).toMatch(/did not answer the .+ within 1 s/);
}

beforeAll(async () => {
  await ensureDemoImage();
  await proxy.resume();
});

afterAll(async () => {
  await proxy.pause();
});

afterEach(async () => {
  proxy.unstall();
  proxy.stalled.length = 0;
  await sweepContainers(instanceId);
  await sweepTestNetworks();
});

describe('engine call bounds (real engine behind a stalling relay)', () => {
  jest.setTimeout(60_000);

  it('fails a stop the engine never answers with ENGINE_TIMEOUT and aborts the request', async () => {
    const containerId = await runningContainer();
    const deployment = boundedThroughProxy('DOCKER_STOP_TIMEOUT_SECONDS');
    proxy.stall('POST', /^\/containers\/[^/]+\/stop/);

    // STOP_TIMEOUT_SECONDS is 2 here: the bound is those 2 s of grace plus the 1 s.
    const error = await rejectionOf(deployment.stop(containerId));
    expect(isCodedError(error, 'ENGINE_TIMEOUT')).toBe(true);
    expect((error as CodedError).details).toMatchObject({ call: 'stop', boundMs: 3000 });
    await expectHeldAndAborted('POST');
    // The engine never got the stop.
    expect((await testDocker().getContainer(containerId).inspect()).State.Running).toBe(true);
  });

  it('fails a start the engine never answers', async () => {
    const containerId = await runningContainer();
    await direct.stop(containerId);
    const deployment = boundedThroughProxy('DOCKER_START_TIMEOUT_SECONDS');
    proxy.stall('POST', /^\/containers\/[^/]+\/start/);

    expectTimeout(await rejectionOf(deployment.start(containerId)), 'start');
    await expectHeldAndAborted('POST');
  });

  it('fails an inspect the engine never answers', async () => {
    const containerId = await runningContainer();
    const deployment = boundedThroughProxy('DOCKER_INSPECT_TIMEOUT_SECONDS');
    proxy.stall('GET', /^\/containers\/[^/]+\/json/);

    expectTimeout(await rejectionOf(deployment.inspect(containerId)), 'inspect');
    await expectHeldAndAborted('GET');
  });

  it('fails a remove the engine never answers', async () => {
    const containerId = await runningContainer();
    const deployment = boundedThroughProxy('DOCKER_REMOVE_TIMEOUT_SECONDS');
    proxy.stall('DELETE', /^\/containers\/[^/]+/);

    expectTimeout(await rejectionOf(deployment.remove(containerId)), 'remove');
    await expectHeldAndAborted('DELETE');
  });

  it('fails a create the engine never answers, and leaves no container', async () => {
    const spec = demoSpec();
    const deployment = boundedThroughProxy('DOCKER_CREATE_TIMEOUT_SECONDS');
    proxy.stall('POST', /^\/containers\/create/);

    expectTimeout(await rejectionOf(deployment.provision(spec)), 'create');
    await expectHeldAndAborted('POST');
    const left = await testDocker().listContainers({
      all: true,
      filters: { name: [`sandboxd-${spec.sandboxId}`] },
    });
    expect(left).toHaveLength(0);
  });

  it.each([
    ['creating', /^\/containers\/[^/]+\/exec/],
    ['attaching', /^\/exec\/[^/]+\/start/],
  ])('fails an exec whose %s the engine never answers', async (_step, path) => {
    const containerId = await runningContainer();
    const deployment = boundedThroughProxy('DOCKER_EXEC_START_TIMEOUT_SECONDS');
    proxy.stall('POST', path);

    const request = { argv: ['true'], timeoutMs: 10_000, outputLimitBytes: 1024 };
    expectTimeout(await rejectionOf(deployment.exec(containerId, request)), 'execStart');
    await expectHeldAndAborted('POST');
  });

  it("aborts a held call with the caller's own reason when its signal aborts", async () => {
    const containerId = await runningContainer();
    // Default bounds: only the caller's abort can end this call soon.
    const { deployment } = deploymentFor(instanceId, PORTS, { DOCKER_SOCKET_PATH: proxy.path });
    proxy.stall('POST', /^\/containers\/[^/]+\/stop/);
    const controller = new AbortController();
    const lost = new CodedError('SANDBOX_BUSY', 'the lock was lost');

    const stopping = rejectionOf(deployment.stop(containerId, undefined, controller.signal));
    await eventually(() => Promise.resolve(proxy.stalled.length > 0 || undefined));
    controller.abort(lost);
    expect(await stopping).toBe(lost);
    await expectHeldAndAborted('POST');
  });
});
