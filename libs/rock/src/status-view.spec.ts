import { makeSandboxInfo } from '../../meta-store/src/testing/sandbox-fixtures';
import { phasesOf, toStatus, visibleByDefault } from './status-view';

const at = '2026-01-01T00:00:00.000Z';

describe('ROCK status view', () => {
  it('should report a running sandbox with strings where the SDK wants them', () => {
    const info = makeSandboxInfo({
      state: 'running',
      operation: null,
      memoryBytes: 256 * 1024 * 1024,
      cpus: 0.5,
      labels: { 'rock/user-id': 'u1' },
      ports: { '8080': 30001 },
      startedAt: at,
      host: '127.0.0.1',
    });
    const status = toStatus(info, 'my-box');
    expect(status).toMatchObject({
      sandbox_id: 'my-box',
      state: 'running',
      is_alive: true,
      memory: '256m',
      cpus: 0.5,
      user_id: 'u1',
      experiment_id: null,
      port_mapping: { '8080': 30001 },
      host_ip: '127.0.0.1',
      start_time: at,
      status: { image_pull: { status: 'success' }, docker_run: { status: 'success' } },
    });
    expect(typeof status.host_name).toBe('string');
    for (const phase of Object.values(status.status)) expect(typeof phase.message).toBe('string');
  });

  it('should say a starting sandbox is not alive yet, with phases and no failure', () => {
    const info = makeSandboxInfo({ state: 'pending', operation: 'starting' });
    expect(toStatus(info, info.id).is_alive).toBe(false);
    expect(Object.values(phasesOf(info)).map((p) => p.status)).not.toContain('failed');
    expect(visibleByDefault(info)).toBe(true);
  });

  it('should show a failed start as a failed docker_run, and no stale failure after a restart', () => {
    const failed = makeSandboxInfo({
      state: 'stopped',
      failureReason: 'image not found',
      stateHistory: [
        { from: 'pending', to: 'stopped', event: 'startFailed', at, reason: 'image not found' },
      ],
    });
    expect(phasesOf(failed).docker_run).toEqual({ status: 'failed', message: 'image not found' });
    expect(visibleByDefault(failed)).toBe(true);
    const restarting = makeSandboxInfo({
      state: 'pending',
      operation: 'starting',
      failureReason: null,
      stateHistory: [
        ...failed.stateHistory,
        { from: 'stopped', to: 'pending', event: 'restart', at },
      ],
    });
    expect(Object.values(phasesOf(restarting)).map((p) => p.status)).not.toContain('failed');
  });

  it('should hide stopped and deleted sandboxes from plain get_status', () => {
    const stopped = makeSandboxInfo({
      state: 'stopped',
      stateHistory: [{ from: 'running', to: 'stopped', event: 'stop', at }],
    });
    expect(visibleByDefault(stopped)).toBe(false);
    expect(visibleByDefault(makeSandboxInfo({ state: 'deleted', deletedAt: at }))).toBe(false);
    expect(toStatus(stopped, stopped.id).state_history).toEqual([
      { from_state: 'running', to_state: 'stopped', event: 'stop', timestamp: at },
    ]);
  });
});
