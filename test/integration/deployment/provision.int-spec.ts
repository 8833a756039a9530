// @app/config's DTO decorators need the Reflect metadata polyfill before anything imports it.
import 'reflect-metadata';
import {
  buildContainerConfig,
  SandboxNetwork,
  LABEL_INSTANCE,
  LABEL_MANAGED,
  LABEL_SANDBOX_ID,
} from '@app/deployment';
import {
  ensureDemoImage,
  execIn,
  newTestInstanceId,
  sweepContainers,
  sweepTestNetworks,
  testDocker,
} from '../../support/docker';
import { demoSpec, deploymentFor } from './deployment-fixtures';

const instanceId = newTestInstanceId();
const { config, deployment } = deploymentFor(instanceId, '41000-41999');
const docker = testDocker();

beforeAll(async () => {
  await ensureDemoImage();
});

afterAll(async () => {
  await sweepContainers(instanceId);
  await sweepTestNetworks();
});

describe('DockerDeployment provision (real engine)', () => {
  it('answers ping', async () => {
    await expect(deployment.ping()).resolves.toBeUndefined();
  });

  it('provisions the demo image running, with limits, labels and ports in range', async () => {
    const spec = demoSpec({
      cpus: 0.5,
      memoryBytes: 64 * 1024 * 1024,
      env: { GREETING: 'hello world' },
      labels: { team: 'infra' },
      ports: [8080, 9090],
    });
    const state = await deployment.provision(spec);

    expect(state.running).toBe(true);
    expect(state.status).toBe('running');
    expect(state.name).toBe(`sandboxd-${spec.sandboxId}`);
    expect(state.sandboxId).toBe(spec.sandboxId);
    expect(state.instanceId).toBe(instanceId);
    expect(state.host).toBe('127.0.0.1');
    expect(Object.keys(state.ports).sort()).toEqual(['8080', '9090']);
    const hostPorts = Object.values(state.ports);
    expect(new Set(hostPorts).size).toBe(2);
    for (const port of hostPorts) {
      expect(port).toBeGreaterThanOrEqual(41000);
      expect(port).toBeLessThanOrEqual(41999);
    }

    const raw = await docker.getContainer(state.containerId).inspect();
    expect(raw.HostConfig.Memory).toBe(67108864);
    expect(raw.HostConfig.MemorySwap).toBe(67108864);
    expect(raw.HostConfig.NanoCpus).toBe(500_000_000);
    expect(raw.HostConfig.Init).toBe(true);
    expect(raw.HostConfig.SecurityOpt).toEqual(['no-new-privileges']);
    expect(raw.HostConfig.Privileged).toBe(false);
    expect(raw.HostConfig.Binds ?? []).toEqual([]);
    expect(raw.Mounts.some((m) => m.Source.includes('docker.sock'))).toBe(false);
    expect(raw.Config.Labels).toMatchObject({
      team: 'infra',
      [LABEL_MANAGED]: 'true',
      [LABEL_INSTANCE]: instanceId,
      [LABEL_SANDBOX_ID]: spec.sandboxId,
    });
    expect(raw.Config.Env).toContain('GREETING=hello world');
    expect(raw.HostConfig.PortBindings).toEqual({
      '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: String(state.ports['8080']) }],
      '9090/tcp': [{ HostIp: '127.0.0.1', HostPort: String(state.ports['9090']) }],
    });
    // Keep-alive: the image's CMD ["sh"] would exit without a TTY; the sandbox must stay up.
    expect(raw.Path).toBe('sleep');
    expect(raw.Args).toEqual(['infinity']);
    const env = await execIn(state.containerId, ['sh', '-c', 'echo "$GREETING"']);
    expect(env.output.trim()).toBe('hello world');
  });

  it('runs a given command instead of the keep-alive', async () => {
    const state = await deployment.provision(demoSpec({ command: ['sleep', '300'] }));
    expect(state.running).toBe(true);
    const raw = await docker.getContainer(state.containerId).inspect();
    expect([raw.Path, ...raw.Args]).toEqual(['sleep', '300']);
  });

  it('restarts the same container with the same host ports and files', async () => {
    const first = await deployment.provision(demoSpec({ ports: [8080] }));
    const written = await execIn(first.containerId, ['sh', '-c', 'echo kept > /tmp/marker']);
    expect(written.exitCode).toBe(0);

    expect(await deployment.stop(first.containerId)).toBe('stopped');
    const stopped = await deployment.inspect(first.containerId);
    expect(stopped?.running).toBe(false);
    // A stopped container keeps reporting the host ports it will get back.
    expect(stopped?.ports).toEqual(first.ports);
    expect(await deployment.stop(first.containerId)).toBe('stopped');

    const again = await deployment.start(first.containerId);
    expect(again.containerId).toBe(first.containerId);
    expect(again.running).toBe(true);
    expect(again.ports).toEqual(first.ports);
    const read = await execIn(first.containerId, ['cat', '/tmp/marker']);
    expect(read.output.trim()).toBe('kept');

    // Starting a running container is fine too.
    expect((await deployment.start(first.containerId)).running).toBe(true);
  });

  it('reuses the container when provision runs again for the same sandbox', async () => {
    const spec = demoSpec({ ports: [8080] });
    const first = await deployment.provision(spec);
    const second = await deployment.provision(spec);
    expect(second.containerId).toBe(first.containerId);
    expect(second.ports).toEqual(first.ports);
    const owned = await deployment.listOwned({ sandboxId: spec.sandboxId });
    expect(owned.map((s) => s.containerId)).toEqual([first.containerId]);

    // A stopped one is started again, not replaced.
    await deployment.stop(first.containerId, 0);
    const third = await deployment.provision(spec);
    expect(third.containerId).toBe(first.containerId);
    expect(third.running).toBe(true);
  });

  it('finishes a create that was interrupted before start, running beforeStart for it', async () => {
    const spec = demoSpec();
    const network = new SandboxNetwork(
      docker,
      config.docker.sandboxNetwork,
      instanceId,
      config.docker.callTimeoutsMs,
    );
    const orphan = await docker.createContainer(
      buildContainerConfig(spec, new Map(), config.docker, await network.id()),
    );

    const hookCalls: string[] = [];
    const state = await deployment.provision(spec, (containerId) => {
      hookCalls.push(containerId);
      return Promise.resolve();
    });
    expect(state.containerId).toBe(orphan.id);
    expect(state.running).toBe(true);
    expect(hookCalls).toEqual([orphan.id]);
  });

  it('lists owned containers in every state, filtered by instance and sandbox', async () => {
    const running = await deployment.provision(demoSpec());
    const stoppedOne = await deployment.provision(demoSpec());
    await deployment.stop(stoppedOne.containerId, 0);

    const mine = await deployment.listOwned({ instanceId });
    const ids = mine.map((s) => s.containerId);
    expect(ids).toEqual(expect.arrayContaining([running.containerId, stoppedOne.containerId]));
    expect(mine.every((s) => s.instanceId === instanceId)).toBe(true);
    expect(mine.find((s) => s.containerId === stoppedOne.containerId)?.running).toBe(false);

    const one = await deployment.listOwned({ instanceId, sandboxId: running.sandboxId ?? '' });
    expect(one.map((s) => s.containerId)).toEqual([running.containerId]);
    expect(await deployment.listOwned({ instanceId: `${instanceId}-other` })).toEqual([]);
  });

  it('removes idempotently, and stop/inspect report a missing container', async () => {
    const state = await deployment.provision(demoSpec({ ports: [8080] }));
    await deployment.remove(state.containerId);
    await deployment.remove(state.containerId);
    expect(await deployment.inspect(state.containerId)).toBeNull();
    expect(await deployment.stop(state.containerId)).toBe('missing');
    await expect(deployment.start(state.containerId)).rejects.toMatchObject({
      code: 'CONTAINER_FAILED',
    });
  });
});
