import type { SnapshotFrom } from 'xstate';
import { SANDBOX_OPERATIONS, SandboxInfo, SandboxOperation, SandboxState } from '@app/meta-store';
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
  const value = snapshot.value as string | Record<string, unknown>;
  return (typeof value === 'string' ? value : Object.keys(value)[0]) as SandboxState;
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
    // Snapshots persisted before the field existed have no value for it.
    logDirQuota: c.logDirQuota ?? null,
    startedAt: c.startedAt,
    stoppedAt: c.stoppedAt,
    deletedAt: c.deletedAt,
    failureReason: c.failureReason,
    stateHistory: c.stateHistory,
  };
}
