import type { SnapshotFrom } from 'xstate';
import { SANDBOX_OPERATIONS, SandboxInfo, SandboxOperation, SandboxState } from '@app/domain';
import { publicStateOfValue } from './snapshot-schema';
import type { SandboxMachine } from './sandbox.machine';

export type MachineSnapshot = SnapshotFrom<SandboxMachine>;

/** The part of SandboxInfo that the state machine owns. */
export type MachineView = Pick<
  SandboxInfo,
  | 'state'
  | 'operation'
  | 'containerId'
  | 'ports'
  | 'host'
  | 'logDirQuota'
  | 'startedAt'
  | 'stoppedAt'
  | 'deletedAt'
  | 'failureReason'
  | 'stateHistory'
>;

export function publicStateOf(snapshot: MachineSnapshot): SandboxState {
  return publicStateOfValue(snapshot.value);
}

export function operationOf(snapshot: MachineSnapshot): SandboxOperation | null {
  return SANDBOX_OPERATIONS.find((op) => snapshot.hasTag(op)) ?? null;
}

/** Projects a machine snapshot onto the sandbox's public fields. */
export function viewOf(snapshot: MachineSnapshot): MachineView {
  const c = snapshot.context;
  return {
    state: publicStateOf(snapshot),
    operation: operationOf(snapshot),
    containerId: c.containerId,
    ports: c.ports,
    host: c.host,
    // BackfillStoredBlobs wrote the field into every snapshot persisted before it existed.
    logDirQuota: c.logDirQuota,
    startedAt: c.startedAt,
    stoppedAt: c.stoppedAt,
    deletedAt: c.deletedAt,
    failureReason: c.failureReason,
    stateHistory: c.stateHistory,
  };
}
