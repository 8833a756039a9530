import type { SandboxInfo } from '@app/domain';
import { PAUSE_REASON, e2bStateOf, metadataOf } from './sandbox-view';

const base = { labels: {}, stateHistory: [], operation: null } as unknown as SandboxInfo;
const stopped = (reason?: string): SandboxInfo => ({
  ...base,
  state: 'stopped',
  stateHistory: [{ from: 'running', to: 'stopped', event: 'stop', at: '', reason }],
});

describe('e2bStateOf', () => {
  it('should read a starting and a running sandbox as running', () => {
    expect(e2bStateOf({ ...base, state: 'pending', operation: 'starting' })).toBe('running');
    expect(e2bStateOf({ ...base, state: 'running' })).toBe('running');
  });

  it('should read only a stop by pause as paused; E2B would have killed any other', () => {
    expect(e2bStateOf(stopped(PAUSE_REASON))).toBe('paused');
    expect(e2bStateOf(stopped('max-lifetime'))).toBeNull();
    expect(e2bStateOf({ ...base, state: 'deleted' })).toBeNull();
  });
});

describe('metadataOf', () => {
  it('should give back the metadata labels without their prefix, and nothing else', () => {
    const info = { ...base, labels: { 'e2b.metadata/a': '1', 'e2b.template': 'base', x: 'y' } };
    expect(metadataOf(info)).toEqual({ a: '1' });
  });
});
