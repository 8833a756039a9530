// @app/config's DTO decorators need the Reflect metadata polyfill before anything imports it.
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import {
  buildContainerConfig,
  ICC_OPTION,
  LABEL_INSTANCE,
  LABEL_MANAGED,
  LABEL_NETWORK,
  SANDBOX_CAPABILITIES,
  SandboxNetwork,
} from '@app/deployment';
import { effectiveCapabilities } from '../../support/capabilities';
import {
  ensureDemoImage,
  execIn,
  newTestInstanceId,
  sweepContainers,
  sweepTestNetworks,
  TEST_SANDBOX_NETWORK,
  testDocker,
} from '../../support/docker';
import { demoSpec, deploymentFor, rejectionOf } from './deployment-fixtures';

/**
 * sandboxd's own network and the capability set against the real engine: the network is made once
 * however many instances ask at once, an unsuitable one of that name is refused, `none` has only
 * lo, a container of an older release is moved off Docker's default bridge before it starts, and
 * a network removed behind the service's back is made again.
 */
const instanceId = newTestInstanceId();
const { config, deployment } = deploymentFor(instanceId, '45200-45299');
const docker = testDocker();
const bounds = config.docker.callTimeoutsMs;

/** A network name of this run's own (swept with the test networks by its prefix). */
const freshName = () => `${TEST_SANDBOX_NETWORK}-${randomBytes(4).toString('hex')}`;

async function networksNamed(name: string) {
  const listed = await docker.listNetworks({ filters: { name: [name] } });
  return listed.filter((network) => network.Name === name);
}

async function interfaces(containerId: string): Promise<string[]> {
  const listing = await execIn(containerId, ['ls', '/sys/class/net']);
  return listing.output.split(/\s+/).filter(Boolean).sort();
}

beforeAll(async () => {
  await ensureDemoImage();
});

afterAll(async () => {
  await sweepContainers(instanceId);
  await sweepTestNetworks();
});

describe('the sandbox network (real engine)', () => {
  it('is made once, labelled, with inter-container traffic off, however many ask at once', async () => {
    const name = freshName();
    const instances = Array.from(
      { length: 5 },
      (_, i) => new SandboxNetwork(docker, name, `${instanceId}-${i}`, bounds),
    );
    const ids = await Promise.all(instances.map((network) => network.id()));
    expect(new Set(ids).size).toBe(1);
    const named = await networksNamed(name);
    expect(named.map((network) => network.Id)).toEqual([ids[0]]);
    const [network] = named;
    expect(network.Driver).toBe('bridge');
    expect(network.Options?.[ICC_OPTION]).toBe('false');
    expect(network.Labels).toMatchObject({ [LABEL_MANAGED]: 'true' });
    expect(network.Labels?.[LABEL_NETWORK]).toMatch(new RegExp(`^${instanceId}-\\d$`));

    // A later process finds it and makes nothing.
    expect(await new SandboxNetwork(docker, name, 'later', bounds).id()).toBe(ids[0]);
    expect(await networksNamed(name)).toHaveLength(1);
  });

  it('refuses a network of that name whose containers could reach each other', async () => {
    const name = freshName();
    const made = await docker.createNetwork({
      Name: name,
      Driver: 'bridge',
      Labels: { [LABEL_NETWORK]: 'by-hand' },
    });
    const refused = await rejectionOf(new SandboxNetwork(docker, name, instanceId, bounds).id());
    expect(refused).toMatchObject({
      code: 'CONTAINER_FAILED',
      message: expect.stringMatching(
        new RegExp(
          `network ${name} \\(SANDBOX_NETWORK\\) cannot hold sandboxes: inter-container traffic is on`,
        ),
      ),
      details: { network: name, networkId: made.id, reason: 'engine' },
    });
    // Never "fixed": it is still the operator's network, as it was.
    expect((await networksNamed(name)).map((network) => network.Id)).toEqual([made.id]);
  });

  it('puts a default sandbox on it with the reduced capability set', async () => {
    const state = await deployment.provision(demoSpec());
    const raw = await docker.getContainer(state.containerId).inspect();
    const [network] = await networksNamed(TEST_SANDBOX_NETWORK);
    expect(raw.HostConfig.NetworkMode).toBe(network.Id);
    expect(Object.keys(raw.NetworkSettings.Networks)).toEqual([TEST_SANDBOX_NETWORK]);
    expect(state.networks).toEqual({ [TEST_SANDBOX_NETWORK]: network.Id });
    expect(await interfaces(state.containerId)).toEqual(['eth0', 'lo']);

    const status = await execIn(state.containerId, ['cat', '/proc/self/status']);
    expect(effectiveCapabilities(status.output).sort()).toEqual([...SANDBOX_CAPABILITIES].sort());
  });

  it('gives a none sandbox no network at all, only lo', async () => {
    const state = await deployment.provision(demoSpec({ network: 'none' }));
    expect(state.networkMode).toBe('none');
    expect(await interfaces(state.containerId)).toEqual(['lo']);
  });

  it("moves a container of an older release off Docker's default bridge before it starts", async () => {
    const spec = demoSpec({ ports: [8080] });
    // As an older release made it: the same container, on the default bridge.
    const options = buildContainerConfig(spec, new Map([[8080, 45299]]), config.docker, 'bridge');
    const old = await docker.createContainer({
      ...options,
      Labels: { ...options.Labels, [LABEL_INSTANCE]: instanceId },
    });
    const before = await deployment.inspect(old.id);
    expect(Object.keys(before?.networks ?? {})).toEqual(['bridge']);

    await deployment.joinSandboxNetwork(before!);
    const started = await deployment.start(old.id, 0);
    expect(Object.keys(started.networks ?? {})).toEqual([TEST_SANDBOX_NETWORK]);
    expect(started.ports).toEqual({ '8080': 45299 });
    expect(await interfaces(old.id)).toEqual(['eth0', 'lo']);

    // Once there, nothing moves again.
    await deployment.stop(old.id, 0);
    const stopped = await deployment.inspect(old.id);
    await deployment.joinSandboxNetwork(stopped!);
    expect((await deployment.inspect(old.id))?.networks).toEqual(stopped?.networks);
  });

  it('makes the network again when it was removed behind its back, for a create and a restart', async () => {
    const name = freshName();
    const own = deploymentFor(instanceId, '45200-45299', { SANDBOX_NETWORK: name }).deployment;
    const first = await own.provision(demoSpec());
    await own.stop(first.containerId, 0);
    // A stopped container holds no endpoint, so the engine lets the network go.
    const [gone] = await networksNamed(name);
    await docker.getNetwork(gone.Id).remove();

    const second = await own.provision(demoSpec());
    expect(second.running).toBe(true);
    const [remade] = await networksNamed(name);
    expect(remade.Id).not.toBe(gone.Id);
    expect(Object.values(second.networks ?? {})).toEqual([remade.Id]);

    // The stopped one still names the removed network: start moves it onto the new one.
    const restarted = await own.start(first.containerId, 0);
    expect(restarted.running).toBe(true);
    expect(restarted.networks).toEqual({ [name]: remade.Id });
  });
});
