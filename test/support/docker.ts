// @app/config's DTO decorators need the Reflect metadata polyfill before anything imports it.
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { LABEL_INSTANCE, LABEL_NETWORK } from '@app/deployment';
import Dockerode from 'dockerode';

/**
 * Helpers for tests that run against the real Docker engine. Every test uses its own instance id,
 * so the containers it made (and only those) can be swept afterwards by label.
 */

export const DEMO_IMAGE = 'sandboxd/demo:latest';

const BUILD_SCRIPT = join(__dirname, '..', '..', 'scripts', 'build-demo-image.sh');
const run = promisify(execFile);

export function testDockerSocketPath(): string {
  return process.env.DOCKER_SOCKET_PATH || '/var/run/docker.sock';
}

/** A dockerode client for assertions and fixtures; the code under test owns its own. */
export function testDocker(): Dockerode {
  return new Dockerode({ socketPath: testDockerSocketPath() });
}

/** Builds sandboxd/demo:latest from busybox-static if it is not there yet (offline, ~1 s). */
export async function ensureDemoImage(): Promise<void> {
  await run('bash', [BUILD_SCRIPT], { timeout: 120_000 });
}

/**
 * The sandbox network (SANDBOX_NETWORK) of every test app and deployment: one shared name, so
 * suites never use the production default and do not each take one of the engine's address pools.
 */
export const TEST_SANDBOX_NETWORK = 'sandboxd-test';

/**
 * Removes the sandbox networks tests made (named `sandboxd-test…`, labelled by SandboxNetwork)
 * that no container is attached to any more. One still in use (a suite of another process) is
 * left; it goes with the last sweep after it. Returns how many were removed.
 */
export async function sweepTestNetworks(docker: Dockerode = testDocker()): Promise<number> {
  const networks = await docker.listNetworks({ filters: { label: [LABEL_NETWORK] } });
  let removed = 0;
  for (const network of networks) {
    if (!network.Name.startsWith(TEST_SANDBOX_NETWORK)) continue;
    try {
      const inspected = await docker.getNetwork(network.Id).inspect();
      if (Object.keys((inspected as { Containers?: object }).Containers ?? {}).length > 0) continue;
      await docker.getNetwork(network.Id).remove();
      removed += 1;
    } catch (error) {
      // Gone already (404), or a container joined meanwhile (403 active endpoints): left.
      if (typeof (error as { statusCode?: number }).statusCode !== 'number') throw error;
    }
  }
  return removed;
}

export function newTestInstanceId(): string {
  return `test-${randomBytes(5).toString('hex')}`;
}

/** Removes every container labelled with this instance id, in any state. Returns how many. */
export async function sweepContainers(instanceId: string): Promise<number> {
  const docker = testDocker();
  const containers = await docker.listContainers({
    all: true,
    filters: { label: [`${LABEL_INSTANCE}=${instanceId}`] },
  });
  await Promise.all(
    containers.map(async (container) => {
      try {
        await docker.getContainer(container.Id).remove({ force: true, v: true });
      } catch (error) {
        // Gone already (404) or being removed by the test itself (409): either way it goes.
        const status = (error as { statusCode?: number }).statusCode;
        if (status !== 404 && status !== 409) throw error;
      }
    }),
  );
  return containers.length;
}

/** Runs a command inside a running container and collects its output and exit code. */
export async function execIn(
  containerId: string,
  argv: string[],
): Promise<{ exitCode: number | null; output: string }> {
  const docker = testDocker();
  const exec = await docker.getContainer(containerId).exec({
    Cmd: argv,
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (chunk: Buffer) => chunks.push(chunk));
  docker.modem.demuxStream(stream, sink, sink);
  await new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  const info = await exec.inspect();
  return { exitCode: info.ExitCode, output: Buffer.concat(chunks).toString('utf8') };
}
