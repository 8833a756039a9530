import { exitReason } from './exit-reason';
import type { ContainerState } from './types';

function state(overrides: Partial<ContainerState>): ContainerState {
  return {
    containerId: 'abc',
    name: 'sandboxd-sb-1',
    running: false,
    status: 'exited',
    exitCode: 0,
    oomKilled: false,
    createdAt: '2026-01-01T00:00:00Z',
    startedAt: '2026-01-01T00:00:01Z',
    finishedAt: '2026-01-01T00:01:00Z',
    ports: {},
    host: '127.0.0.1',
    labels: {},
    sandboxId: 'sb-1',
    instanceId: 'i-1',
    ...overrides,
  };
}

describe('exitReason', () => {
  it.each<[string, Partial<ContainerState>, string]>([
    ['a clean exit', { exitCode: 0 }, 'container exited with code 0'],
    ['a failure', { exitCode: 3 }, 'container exited with code 3'],
    [
      'the OOM killer',
      { exitCode: 137, oomKilled: true },
      'container exited with code 137 (OOM-killed)',
    ],
    ['docker kill', { exitCode: 137 }, 'container exited with code 137 (killed by SIGKILL)'],
    ['docker stop', { exitCode: 143 }, 'container exited with code 143 (killed by SIGTERM)'],
    ['an unknown signal number', { exitCode: 190 }, 'container exited with code 190'],
    [
      'a dead container',
      { status: 'dead', exitCode: 137 },
      'container is dead (the engine failed to remove it)',
    ],
    ['a removal in progress', { status: 'removing' }, 'container is being removed'],
    [
      'a never-started container',
      { status: 'created', exitCode: null, startedAt: null },
      'container was created but never started',
    ],
    [
      'a running container',
      { status: 'running', running: true, exitCode: null },
      'container is running',
    ],
    [
      'a paused container',
      { status: 'paused', running: true, exitCode: null },
      'container is paused',
    ],
    [
      'an OOM kill without exit code',
      { exitCode: null, oomKilled: true },
      'container was OOM-killed',
    ],
    ['an odd state', { status: 'weird', exitCode: null }, 'container is weird'],
  ])('describes %s', (_name, overrides, expected) => {
    expect(exitReason(state(overrides))).toBe(expected);
  });

  it('explains a container that no longer exists', () => {
    expect(exitReason(null)).toBe('container was removed outside sandboxd');
  });
});
