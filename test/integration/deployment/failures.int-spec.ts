// @app/config's DTO decorators need the Reflect metadata polyfill before anything imports it.
import 'reflect-metadata';
import { isCodedError } from '@app/domain';
import {
  ensureDemoImage,
  newTestInstanceId,
  sweepContainers,
  sweepTestNetworks,
  testDocker,
} from '../../support/docker';
import { demoSpec, deploymentFor, rejectionOf } from './deployment-fixtures';

const instanceId = newTestInstanceId();
const { deployment } = deploymentFor(instanceId, '42000-42999');
const docker = testDocker();

/** Containers of this sandbox, looked up independently of the code under test. */
async function containersOf(sandboxId: string): Promise<number> {
  const found = await docker.listContainers({
    all: true,
    filters: { name: [`sandboxd-${sandboxId}`] },
  });
  return found.length;
}

beforeAll(async () => {
  await ensureDemoImage();
});

afterEach(async () => {
  await sweepContainers(instanceId);
  await sweepTestNetworks();
});

describe('DockerDeployment failure paths (real engine)', () => {
  it('removes the container when the beforeStart hook throws', async () => {
    const spec = demoSpec({ ports: [8080] });
    let hookContainerId = '';
    const error = await rejectionOf(
      deployment.provision(spec, async (containerId) => {
        hookContainerId = containerId;
        // The container exists at this point: the hook runs between create and start.
        expect((await docker.getContainer(containerId).inspect()).State.Status).toBe('created');
        throw new Error('quota could not be applied');
      }),
    );
    expect((error as Error).message).toBe('quota could not be applied');
    expect(hookContainerId).not.toBe('');
    expect(await deployment.inspect(hookContainerId)).toBeNull();
    expect(await containersOf(spec.sandboxId)).toBe(0);
  });

  it('fails fast with IMAGE_UNAVAILABLE for an image that is neither local nor pullable', async () => {
    const spec = demoSpec({ image: 'sandboxd-test/does-not-exist:1' });
    const started = Date.now();
    const error = await rejectionOf(deployment.provision(spec));
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(isCodedError(error, 'IMAGE_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toMatch(
      /^image sandboxd-test\/does-not-exist:1 is not available locally and could not be pulled: .+/,
    );
    expect(await containersOf(spec.sandboxId)).toBe(0);
  });

  it('honours an abort signal before anything is created', async () => {
    const controller = new AbortController();
    controller.abort(new Error('caller gave up'));
    const spec = demoSpec();
    const error = await rejectionOf(deployment.provision(spec, undefined, controller.signal));
    expect((error as Error).message).toBe('caller gave up');
    expect(await containersOf(spec.sandboxId)).toBe(0);
  });

  it('reports CONTAINER_FAILED with the exit code but never the output (it may print env)', async () => {
    const spec = demoSpec({
      env: { API_TOKEN: 'tok-do-not-echo' },
      command: ['sh', '-c', 'echo starting $API_TOKEN; echo boom >&2; exit 3'],
    });
    const error = await rejectionOf(deployment.provision(spec));
    expect(isCodedError(error, 'CONTAINER_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/exited right after start with code 3$/);
    const details = isCodedError(error) ? error.details : undefined;
    expect(details?.exitCode).toBe(3);
    expect(JSON.stringify({ message: (error as Error).message, details })).not.toMatch(
      /boom|tok-do-not-echo/,
    );
    expect(await containersOf(spec.sandboxId)).toBe(0);
  });

  it('reports CONTAINER_FAILED when the command cannot be executed at all', async () => {
    const spec = demoSpec({ command: ['/no/such/binary'] });
    const error = await rejectionOf(deployment.provision(spec));
    expect(isCodedError(error, 'CONTAINER_FAILED')).toBe(true);
    expect(await containersOf(spec.sandboxId)).toBe(0);
  });

  it('refuses to adopt a container with the sandbox name that is not ours', async () => {
    const spec = demoSpec();
    await docker.createContainer({
      name: `sandboxd-${spec.sandboxId}`,
      Image: spec.image,
      Cmd: ['sleep', '300'],
      Labels: { 'io.sandboxd.instance': instanceId },
    });
    const error = await rejectionOf(deployment.provision(spec));
    expect(isCodedError(error, 'CONTAINER_FAILED')).toBe(true);
    expect(await containersOf(spec.sandboxId)).toBe(1);
  });

  it('maps an unreachable engine to RUNTIME_UNAVAILABLE', async () => {
    const { deployment: offline } = deploymentFor(instanceId, '42000-42999', {
      DOCKER_SOCKET_PATH: '/tmp/sandboxd-no-such-docker.sock',
    });
    for (const call of [
      () => offline.ping(),
      () => offline.inspect('whatever'),
      () => offline.listOwned(),
      () => offline.stop('whatever'),
      () => offline.remove('whatever'),
      () => offline.provision(demoSpec()),
    ]) {
      const error = await rejectionOf(call());
      expect(isCodedError(error, 'RUNTIME_UNAVAILABLE')).toBe(true);
    }
  });
});
