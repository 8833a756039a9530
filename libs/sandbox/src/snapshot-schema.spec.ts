import { SYSTEM_ACTOR } from '@app/domain';
import { createActor, fromPromise, waitFor } from 'xstate';
import { sandboxMachine } from './sandbox.machine';
import type { ContainerFacts } from './sandbox.machine';
import { persistedSnapshotOf, publicStateOfValue } from './snapshot-schema';

const facts: ContainerFacts = { containerId: 'c1', ports: { '80': 30001 }, host: '127.0.0.1' };

/** A snapshot as the driver persists it (JSON round trip), of a sandbox in the given phase. */
async function persistedAfter(stop: boolean): Promise<Record<string, unknown>> {
  const machine = sandboxMachine.provide({
    actors: {
      createContainer: fromPromise(() => Promise.resolve(facts)),
      startContainer: fromPromise(() => Promise.resolve(facts)),
      stopContainer: fromPromise(() => Promise.resolve()),
      removeContainer: fromPromise(() => Promise.resolve()),
    },
  });
  const input = {
    sandboxId: 'sb1',
    protected: false,
    facts: { runtime: 'runc', autoDeleteSeconds: -1, actor: SYSTEM_ACTOR },
  };
  const actor = createActor(machine, { input }).start();
  await waitFor(actor, (s) => !s.hasTag('busy'));
  if (stop) actor.send({ type: 'stop' });
  const persisted = JSON.parse(JSON.stringify(actor.getPersistedSnapshot())) as Record<
    string,
    unknown
  >;
  actor.stop();
  return persisted;
}

function corruption(persisted: unknown): string {
  try {
    persistedSnapshotOf(persisted, 'sb1');
  } catch (error) {
    expect(error).toMatchObject({ code: 'RECORD_CORRUPT', details: { sandboxId: 'sb1' } });
    return (error as Error).message;
  }
  throw new Error('the snapshot was accepted');
}

describe('the persisted machine snapshot schema', () => {
  it('accepts what the machine persists, settled or busy, keeping every key', async () => {
    for (const stop of [false, true]) {
      const persisted = await persistedAfter(stop);
      expect(persistedSnapshotOf(persisted, 'sb1')).toEqual(persisted);
    }
  });

  it.each<[string, (s: Record<string, unknown>) => Record<string, unknown>]>([
    [
      'a context without stateHistory',
      (s) => ({ ...s, context: { ...ctx(s), stateHistory: undefined } }),
    ],
    ['an unknown state value', (s) => ({ ...s, value: 'zombie' })],
    ['an unknown nested state', (s) => ({ ...s, value: { zombie: 'x' } })],
    ['ports that are not numbers', (s) => ({ ...s, context: { ...ctx(s), ports: { '80': 'x' } } })],
    ['no status', (s) => ({ ...s, status: undefined })],
  ])('answers RECORD_CORRUPT for %s', async (_, corrupt) => {
    expect(corruption(corrupt(await persistedAfter(false)))).toContain('sb1');
  });

  it('answers RECORD_CORRUPT for something that is no snapshot at all', () => {
    expect(corruption('{not json')).toContain('sb1');
    expect(corruption(null)).toContain('sb1');
  });

  it('reads the public state of a value, flat or nested', () => {
    expect(publicStateOfValue('running')).toBe('running');
    expect(publicStateOfValue({ pending: 'creating' })).toBe('pending');
    expect(() => publicStateOfValue({ zombie: 'x' })).toThrow();
  });
});

function ctx(s: Record<string, unknown>): Record<string, unknown> {
  return s.context as Record<string, unknown>;
}
