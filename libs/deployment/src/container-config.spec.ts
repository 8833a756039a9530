// @app/config's DTO decorators need the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { loadConfig } from '@app/config';
import {
  buildContainerConfig,
  capabilitiesOf,
  containerNameFor,
  requestedPorts,
  SANDBOX_CAPABILITIES,
} from './container-config';
import { LABEL_INSTANCE, LABEL_MANAGED, LABEL_POOL, LABEL_SANDBOX_ID } from './labels';
import type { ContainerSpec } from './types';

const settings = loadConfig({
  INSTANCE_ID: 'unit-1',
  PORT_BIND_ADDRESS: '127.0.0.1',
  KEEPALIVE_COMMAND: 'sleep infinity',
}).docker;

/** The id of sandboxd's network, as SandboxNetwork would give it. */
const NET = 'net-0123';

function spec(overrides: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    sandboxId: 'sb-1',
    image: 'sandboxd/demo:latest',
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

describe('buildContainerConfig', () => {
  it('names the container after the sandbox and uses the requested image', () => {
    const options = buildContainerConfig(spec(), new Map(), settings, NET);
    expect(options.name).toBe('sandboxd-sb-1');
    expect(containerNameFor('sb-1')).toBe('sandboxd-sb-1');
    expect(options.Image).toBe('sandboxd/demo:latest');
  });

  it('keeps the sandbox alive with the keep-alive entrypoint and an empty Cmd by default', () => {
    const options = buildContainerConfig(spec(), new Map(), settings, NET);
    expect(options.Entrypoint).toEqual(['sleep', 'infinity']);
    // An empty Cmd, not a missing one: the image's CMD must not become keep-alive arguments.
    expect(options.Cmd).toEqual([]);
  });

  it('uses a given command as Cmd and leaves the image entrypoint alone', () => {
    const options = buildContainerConfig(
      spec({ command: ['sh', '-c', 'x'] }),
      new Map(),
      settings,
      NET,
    );
    expect(options.Cmd).toEqual(['sh', '-c', 'x']);
    expect(options).not.toHaveProperty('Entrypoint');
  });

  it('uses a given entrypoint without adding the keep-alive command', () => {
    const options = buildContainerConfig(
      spec({ entrypoint: ['/bin/run'] }),
      new Map(),
      settings,
      NET,
    );
    expect(options.Entrypoint).toEqual(['/bin/run']);
    expect(options).not.toHaveProperty('Cmd');
  });

  it('uses both when both are given', () => {
    const options = buildContainerConfig(
      spec({ entrypoint: ['sh', '-c'], command: ['echo hi'] }),
      new Map(),
      settings,
      NET,
    );
    expect(options.Entrypoint).toEqual(['sh', '-c']);
    expect(options.Cmd).toEqual(['echo hi']);
  });

  it('sets ownership labels that user labels cannot override', () => {
    const options = buildContainerConfig(
      spec({ labels: { team: 'a', [LABEL_MANAGED]: 'false', [LABEL_SANDBOX_ID]: 'forged' } }),
      new Map(),
      settings,
      NET,
    );
    expect(options.Labels).toEqual({
      team: 'a',
      [LABEL_MANAGED]: 'true',
      [LABEL_INSTANCE]: 'unit-1',
      [LABEL_SANDBOX_ID]: 'sb-1',
    });
  });

  it('marks a warm-pool member with the pool label, and only a pool member', () => {
    const pooled = buildContainerConfig(spec({ poolKey: 'p-1' }), new Map(), settings, NET);
    expect(pooled.Labels?.[LABEL_POOL]).toBe('p-1');
    const cold = buildContainerConfig(spec(), new Map(), settings, NET);
    expect(cold.Labels).not.toHaveProperty(LABEL_POOL);
  });

  it('passes the environment as KEY=VALUE, keeping "=" inside values', () => {
    const options = buildContainerConfig(
      spec({ env: { A: '1', B: 'x=y' } }),
      new Map(),
      settings,
      NET,
    );
    expect(options.Env).toEqual(['A=1', 'B=x=y']);
  });

  it('applies memory (without extra swap) and CPU limits only when set', () => {
    const limited = buildContainerConfig(
      spec({ memoryBytes: 64 * 1024 * 1024, cpus: 0.5 }),
      new Map(),
      settings,
      NET,
    ).HostConfig;
    expect(limited?.Memory).toBe(67108864);
    expect(limited?.MemorySwap).toBe(67108864);
    expect(limited?.NanoCpus).toBe(500_000_000);

    const unlimited = buildContainerConfig(spec(), new Map(), settings, NET).HostConfig;
    expect(unlimited).not.toHaveProperty('Memory');
    expect(unlimited).not.toHaveProperty('MemorySwap');
    expect(unlimited).not.toHaveProperty('NanoCpus');
  });

  it('rounds fractional CPUs to whole nanoCPUs', () => {
    const host = buildContainerConfig(spec({ cpus: 1 / 3 }), new Map(), settings, NET).HostConfig;
    expect(host?.NanoCpus).toBe(333_333_333);
  });

  it('drops every capability and gives back only the reduced set', () => {
    const host = buildContainerConfig(spec(), new Map(), settings, NET).HostConfig;
    expect(host?.CapDrop).toEqual(['ALL']);
    expect(host?.CapAdd).toEqual([...SANDBOX_CAPABILITIES]);
    for (const dropped of ['NET_RAW', 'MKNOD', 'SYS_CHROOT', 'SETFCAP', 'AUDIT_WRITE']) {
      expect(host?.CapAdd).not.toContain(dropped);
    }
  });

  it('gives back what SANDBOX_CAP_ADD names, once each', () => {
    const custom = loadConfig({ SANDBOX_CAP_ADD: 'net_raw,CHOWN' }).docker;
    const host = buildContainerConfig(spec(), new Map(), custom, NET).HostConfig;
    expect(host?.CapAdd).toEqual([...SANDBOX_CAPABILITIES, 'NET_RAW']);
    expect(capabilitiesOf(['CHOWN'])).toEqual([...SANDBOX_CAPABILITIES]);
  });

  it("puts a bridge sandbox on sandboxd's network, by id, and a none one on no network", () => {
    expect(buildContainerConfig(spec(), new Map(), settings, NET).HostConfig?.NetworkMode).toBe(
      NET,
    );
    const bridge = buildContainerConfig(spec({ network: 'bridge' }), new Map(), settings, NET);
    expect(bridge.HostConfig?.NetworkMode).toBe(NET);
    const none = buildContainerConfig(spec({ network: 'none' }), new Map(), settings, NET);
    expect(none.HostConfig?.NetworkMode).toBe('none');
  });

  it('refuses to publish ports from a sandbox without a network', () => {
    expect(() =>
      buildContainerConfig(
        spec({ network: 'none', ports: [8080] }),
        new Map([[8080, 30001]]),
        settings,
        NET,
      ),
    ).toThrow(/ports cannot be published without a network/);
  });

  it('hardens the container: init, no-new-privileges, not privileged, no binds', () => {
    const host = buildContainerConfig(spec(), new Map(), settings, NET).HostConfig;
    expect(host?.Init).toBe(true);
    expect(host?.SecurityOpt).toEqual(['no-new-privileges']);
    expect(host?.Privileged).toBe(false);
    expect(host?.Binds).toBeUndefined();
    expect(host?.Mounts).toBeUndefined();
    expect(host?.RestartPolicy).toEqual({ Name: 'no', MaximumRetryCount: 0 });
  });

  it('exposes and binds every requested port on the configured address', () => {
    const options = buildContainerConfig(
      spec({ ports: [8080, 9090] }),
      new Map([
        [8080, 30001],
        [9090, 30002],
      ]),
      settings,
      NET,
    );
    expect(options.ExposedPorts).toEqual({ '8080/tcp': {}, '9090/tcp': {} });
    expect(options.HostConfig?.PortBindings).toEqual({
      '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '30001' }],
      '9090/tcp': [{ HostIp: '127.0.0.1', HostPort: '30002' }],
    });
  });

  it('refuses to build when a port has no host port', () => {
    expect(() => buildContainerConfig(spec({ ports: [8080] }), new Map(), settings, NET)).toThrow(
      /no host port allocated for container port 8080/,
    );
  });

  it('publishes a port listed twice only once', () => {
    expect(requestedPorts({ ports: [80, 443, 80] })).toEqual([80, 443]);
  });

  it('honours a JSON keep-alive command from the configuration', () => {
    const custom = loadConfig({ KEEPALIVE_COMMAND: '["tail","-f","/dev/null"]' }).docker;
    expect(buildContainerConfig(spec(), new Map(), custom, NET).Entrypoint).toEqual([
      'tail',
      '-f',
      '/dev/null',
    ]);
  });
});
