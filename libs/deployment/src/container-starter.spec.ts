import { STARTUP_GRACE_MS, startupGraceMs } from './container-starter';

describe('startupGraceMs', () => {
  it('looks once at the keep-alive command, which is ours and does not exit', () => {
    expect(startupGraceMs({ command: null, entrypoint: null })).toBe(0);
  });

  it('watches a user command or entrypoint for the full grace period', () => {
    expect(startupGraceMs({ command: ['sh'], entrypoint: null })).toBe(STARTUP_GRACE_MS);
    expect(startupGraceMs({ command: null, entrypoint: ['/init'] })).toBe(STARTUP_GRACE_MS);
    expect(startupGraceMs({ command: [], entrypoint: [] })).toBe(STARTUP_GRACE_MS);
  });
});
