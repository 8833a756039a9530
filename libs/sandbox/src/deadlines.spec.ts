import { autoDeleteAt, autoStopAt, autoStopReason, deadlinesOnEntering } from './deadlines';

const base = {
  idleTimeoutSeconds: 60,
  maxLifetimeSeconds: null,
  startedAt: '2026-01-01T00:00:00.000Z',
  createdAt: '2026-01-01T00:00:00.000Z',
  autoDeleteSeconds: null,
};
const at = (iso: string) => new Date(iso);

describe('autoStopAt', () => {
  it('should be last activity plus the idle timeout', () => {
    expect(autoStopAt(base, at('2026-01-01T00:10:00.000Z'))).toBe('2026-01-01T00:11:00.000Z');
  });

  it('should never stop with idle timeout 0 and no lifetime', () => {
    expect(autoStopAt({ ...base, idleTimeoutSeconds: 0 }, at('2026-01-01T00:10:00Z'))).toBeNull();
  });

  it('should cap the deadline at the max lifetime regardless of activity', () => {
    const info = { ...base, maxLifetimeSeconds: 300 };
    expect(autoStopAt(info, at('2026-01-01T00:04:30.000Z'))).toBe('2026-01-01T00:05:00.000Z');
    expect(autoStopReason(info, at('2026-01-01T00:05:00.000Z'))).toBe('max-lifetime');
    expect(autoStopReason(info, at('2026-01-01T00:04:00.000Z'))).toBe('idle-timeout');
  });
});

describe('autoDeleteAt', () => {
  const stopped = at('2026-01-01T01:00:00.000Z');

  it('should use the sandbox value over the global default', () => {
    expect(autoDeleteAt({ ...base, autoDeleteSeconds: 30 }, stopped, 86400)).toBe(
      '2026-01-01T01:00:30.000Z',
    );
    expect(autoDeleteAt(base, stopped, 3600)).toBe('2026-01-01T02:00:00.000Z');
  });

  it('should mean never for -1 and at once for 0', () => {
    expect(autoDeleteAt({ ...base, autoDeleteSeconds: -1 }, stopped, 60)).toBeNull();
    expect(autoDeleteAt(base, stopped, -1)).toBeNull();
    expect(autoDeleteAt({ ...base, autoDeleteSeconds: 0 }, stopped, 60)).toBe(
      stopped.toISOString(),
    );
  });
});

describe('deadlinesOnEntering', () => {
  it('should clear the delete deadline on restart and the stop deadline on stop', () => {
    const now = at('2026-01-01T03:00:00.000Z');
    expect(deadlinesOnEntering('running', base, now, 60)).toEqual({
      autoStopAt: '2026-01-01T03:01:00.000Z',
      autoDeleteAt: null,
    });
    expect(deadlinesOnEntering('stopped', base, now, 60)).toEqual({
      autoStopAt: null,
      autoDeleteAt: '2026-01-01T03:01:00.000Z',
    });
    expect(deadlinesOnEntering('deleted', base, now, 60)).toEqual({
      autoStopAt: null,
      autoDeleteAt: null,
    });
  });
});
