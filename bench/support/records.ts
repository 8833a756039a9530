import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import type { InsertSandboxInput, SandboxMetaStore } from '@app/meta-store';
import { MACHINE_VERSION } from '@app/sandbox';
import {
  makeSandboxInfo,
  makeSandboxSpec,
} from '../../libs/meta-store/src/testing/sandbox-fixtures';
import { DEMO_IMAGE } from '../../test/support/docker';

export type FakeState = 'running' | 'stopped';

/**
 * A realistic sandbox record with no container behind it (reads never touch Docker): the fields a
 * created-and-started sandbox has, a fake 64-hex container id, one published port, two labels,
 * three env keys and its two transitions. Ids are in the service's format (time-sortable).
 */
export function fakeRecord(
  index: number,
  instanceId: string,
  state: FakeState,
): InsertSandboxInput {
  const now = Date.now();
  const createdAt = new Date(now - 60_000 + index).toISOString();
  const startedAt = new Date(now - 59_000 + index).toISOString();
  const stopped = state === 'stopped';
  const labels = { team: 'bench', shard: String(index % 10) };
  return {
    info: makeSandboxInfo({
      id: `${(now - 60_000 + index).toString(36).padStart(9, '0')}${randomBytes(8).toString('hex')}`,
      name: null,
      state,
      operation: null,
      image: DEMO_IMAGE,
      cpus: 0.5,
      memoryBytes: 268_435_456,
      envKeys: ['API_TOKEN', 'LOG_LEVEL', 'TASK_ID'],
      labels,
      ports: { '8080': 30_000 + index },
      host: '127.0.0.1',
      containerId: randomBytes(32).toString('hex'),
      instanceId,
      createdAt,
      startedAt,
      stoppedAt: stopped ? new Date(now - 1000).toISOString() : null,
      lastActivityAt: startedAt,
      autoStopAt: stopped ? null : new Date(now + 1_800_000).toISOString(),
      autoDeleteAt: stopped ? new Date(now + 86_400_000).toISOString() : null,
      pidsLimit: 1024,
      stateHistory: [
        { from: 'pending', to: 'running', event: 'started', at: startedAt },
        ...(stopped
          ? [
              {
                from: 'running' as const,
                to: 'stopped' as const,
                event: 'stop',
                at: new Date(now - 1000).toISOString(),
                reason: 'manual',
              },
            ]
          : []),
      ],
    }),
    spec: makeSandboxSpec({
      image: DEMO_IMAGE,
      cpus: 0.5,
      memoryBytes: 268_435_456,
      env: { API_TOKEN: 'secret', LOG_LEVEL: 'info', TASK_ID: String(index) },
      labels,
      ports: [8080],
      pidsLimit: 1024,
    }),
    machineSnapshot: null,
    machineVersion: MACHINE_VERSION,
  };
}

/** Inserts `count` fake records through the meta-store (`insert`: row, labels, cache for live). */
export async function insertFakeRecords(
  store: SandboxMetaStore,
  instanceId: string,
  states: readonly FakeState[],
): Promise<{ id: string; state: FakeState }[]> {
  const inserted: { id: string; state: FakeState }[] = [];
  for (let i = 0; i < states.length; i += 1) {
    const { record } = await store.insert(fakeRecord(i, instanceId, states[i]));
    inserted.push({ id: record.info.id, state: states[i] });
  }
  return inserted;
}
