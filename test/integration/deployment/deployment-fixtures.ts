import { loadConfig, type ConfigSlices } from '@app/config';
import { DockerDeployment, type ContainerSpec } from '@app/deployment';
import { randomBytes } from 'node:crypto';
import { DEMO_IMAGE, TEST_SANDBOX_NETWORK, testDockerSocketPath } from '../../support/docker';

/**
 * Each test file passes its own port range so files running in parallel never compete for ports,
 * and its own instance id so it can sweep exactly its containers.
 */
export function deploymentFor(
  instanceId: string,
  portRange: string,
  extra: Record<string, string> = {},
): { config: ConfigSlices; deployment: DockerDeployment } {
  const config = loadConfig({
    DOCKER_SOCKET_PATH: testDockerSocketPath(),
    INSTANCE_ID: instanceId,
    PORT_RANGE: portRange,
    PORT_BIND_ADDRESS: '127.0.0.1',
    STOP_TIMEOUT_SECONDS: '2',
    IMAGE_PULL_TIMEOUT_SECONDS: '20',
    SANDBOX_NETWORK: TEST_SANDBOX_NETWORK,
    ...extra,
  });
  return { config, deployment: new DockerDeployment(config.docker, config.exec) };
}

export function newSandboxId(): string {
  return `sb-${randomBytes(6).toString('hex')}`;
}

export function demoSpec(overrides: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    sandboxId: newSandboxId(),
    image: DEMO_IMAGE,
    cpus: null,
    memoryBytes: null,
    env: {},
    labels: {},
    ports: [],
    command: null,
    entrypoint: null,
    ...overrides,
  };
}

/** The rejection of a promise, failing the test if it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject, but it resolved');
}
