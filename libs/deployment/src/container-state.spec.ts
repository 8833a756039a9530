import type { ContainerInfo, ContainerInspectInfo } from 'dockerode';
import { runningFromListing, toContainerState } from './container-state';
import { LABEL_INSTANCE, LABEL_POOL, LABEL_SANDBOX_ID } from './labels';

function info(
  state: Partial<ContainerInspectInfo['State']>,
  live: unknown = {},
): ContainerInspectInfo {
  return {
    Id: 'abc',
    Name: '/sandboxd-sb-1',
    Created: '2025-12-31T23:59:00Z',
    State: {
      Status: 'exited',
      Running: false,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: 0,
      ExitCode: 3,
      Error: '',
      StartedAt: '2026-01-01T00:00:00Z',
      FinishedAt: '2026-01-01T00:01:00Z',
      ...state,
    },
    Config: { Labels: { [LABEL_SANDBOX_ID]: 'sb-1', [LABEL_INSTANCE]: 'i-1', team: 'a' } },
    HostConfig: { PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '30001' }] } },
    NetworkSettings: { Ports: live },
  } as unknown as ContainerInspectInfo;
}

describe('toContainerState', () => {
  it('reports a stopped container with its configured host ports', () => {
    expect(toContainerState(info({}), '0.0.0.0')).toEqual({
      containerId: 'abc',
      name: 'sandboxd-sb-1',
      running: false,
      status: 'exited',
      exitCode: 3,
      oomKilled: false,
      createdAt: '2025-12-31T23:59:00Z',
      startedAt: '2026-01-01T00:00:00Z',
      finishedAt: '2026-01-01T00:01:00Z',
      ports: { '8080': 30001 },
      host: '127.0.0.1',
      labels: { [LABEL_SANDBOX_ID]: 'sb-1', [LABEL_INSTANCE]: 'i-1', team: 'a' },
      sandboxId: 'sb-1',
      instanceId: 'i-1',
      poolKey: null,
      networkMode: null,
      networks: {},
    });
  });

  it('reports the network mode and the networks it is attached to, also while stopped', () => {
    const raw = info({});
    const withNetworks = {
      ...raw,
      HostConfig: { ...raw.HostConfig, NetworkMode: 'net-1' },
      NetworkSettings: {
        ...raw.NetworkSettings,
        Networks: { sandboxd: { NetworkID: 'net-1', IPAddress: '' } },
      },
    } as unknown as ContainerInspectInfo;
    const state = toContainerState(withNetworks, '127.0.0.1');
    expect(state.networkMode).toBe('net-1');
    expect(state.networks).toEqual({ sandboxd: 'net-1' });
  });

  it('has no exit code or times for a container that never started', () => {
    const state = toContainerState(
      info({
        Status: 'created',
        ExitCode: 0,
        StartedAt: '0001-01-01T00:00:00Z',
        FinishedAt: '0001-01-01T00:00:00Z',
      }),
      '127.0.0.1',
    );
    expect(state.exitCode).toBeNull();
    expect(state.startedAt).toBeNull();
    expect(state.finishedAt).toBeNull();
  });

  it('has no exit code while running', () => {
    const state = toContainerState(
      info(
        { Status: 'running', Running: true, ExitCode: 0 },
        { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '30001' }] },
      ),
      '127.0.0.1',
    );
    expect(state.running).toBe(true);
    expect(state.exitCode).toBeNull();
    expect(state.ports).toEqual({ '8080': 30001 });
  });
});

describe('runningFromListing', () => {
  const listed = (state: string): ContainerInfo =>
    ({
      Id: 'abc',
      Names: ['/sandboxd-sb-1'],
      Created: 1_767_225_540,
      State: state,
      Status: 'Up 5 minutes',
      Labels: { [LABEL_SANDBOX_ID]: 'sb-1', [LABEL_INSTANCE]: 'i-1', [LABEL_POOL]: 'demo' },
    }) as unknown as ContainerInfo;

  it('takes a running container from the list answer, without an inspect', () => {
    expect(runningFromListing(listed('running'))).toEqual({
      containerId: 'abc',
      name: 'sandboxd-sb-1',
      running: true,
      status: 'running',
      exitCode: null,
      oomKilled: false,
      createdAt: '2025-12-31T23:59:00.000Z',
      finishedAt: null,
      labels: { [LABEL_SANDBOX_ID]: 'sb-1', [LABEL_INSTANCE]: 'i-1', [LABEL_POOL]: 'demo' },
      sandboxId: 'sb-1',
      instanceId: 'i-1',
      poolKey: 'demo',
    });
  });

  it.each(['exited', 'created', 'paused', 'restarting', 'dead', 'removing'])(
    'leaves a %s container to an inspect (exit code, OOM kill, finish time)',
    (state) => {
      expect(runningFromListing(listed(state))).toBeNull();
    },
  );
});
