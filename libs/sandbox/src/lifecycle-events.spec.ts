import type { Actor } from '@app/domain';
import { makeSandboxInfo } from '../../meta-store/src/testing/sandbox-fixtures';
import { eventsOfChange, stopReasonOf, typeOfEntry } from './lifecycle-events';

const ADMIN: Actor = { kind: 'admin', tenant: null, keyId: 'k1' };
const at = '2026-01-01T00:00:00.000Z';

describe('lifecycle events', () => {
  it('names each history entry by the event it is', () => {
    expect(typeOfEntry({ from: 'pending', to: 'running', event: 'started', at })).toBe(
      'sandbox.running',
    );
    expect(typeOfEntry({ from: 'stopped', to: 'pending', event: 'restart', at })).toBe(
      'sandbox.restarted',
    );
    expect(typeOfEntry({ from: 'running', to: 'stopped', event: 'stop', at })).toBe(
      'sandbox.stopped',
    );
    expect(typeOfEntry({ from: 'running', to: 'stopped', event: 'exited', at })).toBe(
      'sandbox.stopped',
    );
    expect(typeOfEntry({ from: 'pending', to: 'stopped', event: 'startFailed', at })).toBe(
      'sandbox.failed',
    );
    expect(typeOfEntry({ from: 'stopped', to: 'deleted', event: 'delete', at })).toBe(
      'sandbox.deleted',
    );
  });

  it('maps the machine reasons of a stop onto manual, idle, lifetime, exited and oom', () => {
    const stop = (event: string, reason?: string) =>
      stopReasonOf({ from: 'running', to: 'stopped', event, at, reason });
    expect(stop('stop', 'manual')).toBe('manual');
    expect(stop('stop', 'idle-timeout')).toBe('idle');
    expect(stop('stop', 'max-lifetime')).toBe('lifetime');
    expect(stop('delete', 'manual')).toBe('manual');
    expect(stop('exited', 'container exited with code 0')).toBe('exited');
    expect(stop('exited', 'container exited with code 137 (OOM-killed)')).toBe('oom');
  });

  it('makes one event per entry and one for a protection change, each with the written view', () => {
    const info = makeSandboxInfo({ id: 'sb1', state: 'stopped', protected: true });
    const events = eventsOfChange(
      {
        entries: [
          {
            from: 'running',
            to: 'stopped',
            event: 'exited',
            at,
            reason: 'container exited with code 3',
            actor: ADMIN,
          },
        ],
        protection: { actor: ADMIN, at },
      },
      info,
    );
    expect(events.map((e) => e.type)).toEqual(['sandbox.stopped', 'sandbox.protection_changed']);
    expect(events[0]).toMatchObject({
      sandboxId: 'sb1',
      actor: ADMIN,
      tenant: null,
      reason: 'exited',
      detail: 'container exited with code 3',
      sandbox: { id: 'sb1', state: 'stopped', protected: true },
    });
    expect(events[0].sandbox).not.toHaveProperty('stateHistory');
    expect(events[1]).toMatchObject({ reason: null, detail: null });
  });
});
