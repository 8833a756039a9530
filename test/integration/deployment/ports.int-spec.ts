// @app/config's DTO decorators need the Reflect metadata polyfill before anything imports it.
import 'reflect-metadata';
import { isCodedError } from '@app/domain';
import { LABEL_INSTANCE } from '@app/deployment';
import { createServer, type Server } from 'node:net';
import {
  ensureDemoImage,
  newTestInstanceId,
  sweepContainers,
  sweepTestNetworks,
  testDocker,
} from '../../support/docker';
import { demoSpec, deploymentFor, rejectionOf } from './deployment-fixtures';

const instanceId = newTestInstanceId();
const docker = testDocker();

/**
 * A container not made by sandboxd that publishes host ports but was never started: its bindings
 * exist only in its configuration, which is exactly what a naive scan of running ports misses.
 */
async function foreignStoppedContainer(hostPorts: number[]): Promise<string> {
  const exposed: Record<string, Record<string, never>> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  hostPorts.forEach((hostPort, i) => {
    exposed[`${7000 + i}/tcp`] = {};
    bindings[`${7000 + i}/tcp`] = [{ HostIp: '127.0.0.1', HostPort: String(hostPort) }];
  });
  const container = await docker.createContainer({
    Image: 'sandboxd/demo:latest',
    Cmd: ['sleep', '300'],
    Labels: { [LABEL_INSTANCE]: instanceId }, // for the sweep only; not a managed container
    ExposedPorts: exposed,
    HostConfig: { PortBindings: bindings },
  });
  return container.id;
}

function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

beforeAll(async () => {
  await ensureDemoImage();
});

afterEach(async () => {
  await sweepContainers(instanceId);
  await sweepTestNetworks();
});

describe('host port allocation (real engine)', () => {
  it('never hands out ports of stopped containers, ours or foreign', async () => {
    const { deployment } = deploymentFor(instanceId, '43000-43004');
    await foreignStoppedContainer([43000, 43001, 43002]);

    const first = await deployment.provision(demoSpec({ ports: [80] }));
    const firstPort = first.ports['80'];
    expect([43003, 43004]).toContain(firstPort);

    // Appears after the allocator's first scan: the next scan must still see it.
    const lastFree = firstPort === 43003 ? 43004 : 43003;
    await foreignStoppedContainer([lastFree]);
    const full = await rejectionOf(deployment.provision(demoSpec({ ports: [80] })));
    expect(isCodedError(full, 'PORTS_EXHAUSTED')).toBe(true);

    // Our own stopped sandbox keeps its port too.
    await deployment.stop(first.containerId, 0);
    const stillFull = await rejectionOf(deployment.provision(demoSpec({ ports: [80] })));
    expect(isCodedError(stillFull, 'PORTS_EXHAUSTED')).toBe(true);

    // Once it is removed, its port is free again.
    await deployment.remove(first.containerId);
    const reused = await deployment.provision(demoSpec({ ports: [80] }));
    expect(reused.ports['80']).toBe(firstPort);
  });

  it('sees stopped containers on a fresh allocator too (cold cache)', async () => {
    await foreignStoppedContainer([43010, 43011]);
    const { deployment } = deploymentFor(instanceId, '43010-43012');
    const state = await deployment.provision(demoSpec({ ports: [80] }));
    expect(state.ports).toEqual({ '80': 43012 });
  });

  it('gives concurrent provisions distinct ports', async () => {
    const { deployment } = deploymentFor(instanceId, '43020-43023');
    const [a, b] = await Promise.all([
      deployment.provision(demoSpec({ ports: [80, 81] })),
      deployment.provision(demoSpec({ ports: [80, 81] })),
    ]);
    const all = [...Object.values(a.ports), ...Object.values(b.ports)];
    expect(all.sort()).toEqual([43020, 43021, 43022, 43023]);
  });

  it('retries with another port when a non-Docker process holds the chosen one', async () => {
    const server = await listenOn(43030);
    try {
      const { deployment } = deploymentFor(instanceId, '43030-43031');
      // Random picking hits the held port about half the time; a few rounds exercise the retry.
      for (let round = 0; round < 4; round += 1) {
        const state = await deployment.provision(demoSpec({ ports: [80] }));
        expect(state.ports).toEqual({ '80': 43031 });
        await deployment.remove(state.containerId);
      }
    } finally {
      await close(server);
    }
  });

  it('gives up with PORTS_EXHAUSTED and leaves nothing when every port is held', async () => {
    const server = await listenOn(43040);
    try {
      const { deployment } = deploymentFor(instanceId, '43040-43040');
      const spec = demoSpec({ ports: [80] });
      const error = await rejectionOf(deployment.provision(spec));
      expect(isCodedError(error, 'PORTS_EXHAUSTED')).toBe(true);
      expect(await deployment.inspect(`sandboxd-${spec.sandboxId}`)).toBeNull();
    } finally {
      await close(server);
    }
  });
});
