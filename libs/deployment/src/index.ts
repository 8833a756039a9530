export { DeploymentModule } from './deployment.module';
export { DockerDeployment } from './docker-deployment';
export { HostPortAllocator, PortLease } from './host-port-allocator';
export {
  SANDBOX_CAPABILITIES,
  buildContainerConfig,
  capabilitiesOf,
  containerNameFor,
  requestedPorts,
} from './container-config';
export type { ContainerConfigSettings } from './container-config';
export { ContainerEventStream } from './container-event-stream';
export type {
  ContainerEventHandler,
  EventSource,
  EventStreamOptions,
  ResyncHandler,
} from './container-event-stream';
export { CONTAINER_EVENT_ACTIONS, LineSplitter, parseEventLine } from './container-events';
export type { ContainerEvent, ContainerEventAction } from './container-events';
export { exitReason } from './exit-reason';
export { STARTUP_GRACE_MS, startupGraceMs } from './container-starter';
export { pickPorts } from './port-picker';
export type { PortRange } from './port-picker';
export {
  LABEL_INSTANCE,
  LABEL_MANAGED,
  LABEL_NETWORK,
  LABEL_POOL,
  LABEL_PREFIX,
  LABEL_SANDBOX_ID,
  ownedLabelFilters,
} from './labels';
export type {
  BeforeStartHook,
  ContainerSpec,
  ContainerState,
  OwnedContainer,
  OwnedFilter,
} from './types';
export { killExecTree } from './exec-killer';
export type { KillOptions, KillReport } from './exec-killer';
export {
  EXEC_MARKER_ENV,
  MAX_EXEC_OUTPUT_BYTES,
  MAX_EXEC_TIMEOUT_MS,
  execCreateOptions,
  validateExecRequest,
} from './exec-request';
export { ExecFrameDecoder } from './exec-frames';
export type { StreamPart } from './exec-frames';
export { STREAM_HIGH_WATER_BYTES, runExec, streamExec } from './exec-runner';
export {
  EXEC_BUDGET_RETRY_AFTER_SECONDS,
  ExecOutputBudget,
  ExecOutputLease,
  budgetExhausted,
} from './exec-output-budget';
export { ExecSession } from './exec-session';
export type {
  ExecOutcome,
  ExecTarget,
  OutputSink,
  OutputStream,
  ProcessKiller,
  SessionOptions,
} from './exec-session';
export type {
  ExecEvent,
  ExecExitEvent,
  ExecOutputEvent,
  ExecRequest,
  ExecResult,
} from './exec-types';
export { OutputCap } from './output-cap';
export { parseProcessTable, parseStat, selectDoomed } from './process-tree';
export type { DoomedOptions, ProcessEntry } from './process-tree';
export { environHas, hostProcesses, hostViewOf } from './host-processes';
export type { HostView } from './host-processes';
export { EventQueue } from './event-queue';
export { ICC_OPTION, SandboxNetwork } from './sandbox-network';
export type { QueueFlow } from './event-queue';
export { fileNotFound, fileTooLarge, notADirectory, notAFile } from './file-errors';
export { directChild, goModePermissions, goModeType, parsePathStat } from './file-info';
export { MAX_PATH_LENGTH, normalizeContainerPath, splitPath } from './file-paths';
export type { PathRules } from './file-paths';
export type {
  DirEntry,
  DirListing,
  FileInfo,
  FileRead,
  FileType,
  ListOptions,
  ReadOptions,
  WriteOptions,
} from './file-types';
export { execEngineError, execFailed } from './exec-errors';
export { EngineFacts, runtimeDisablesNetwork } from './engine-facts';
export type { EngineCapacity, EngineStorageInfo } from './engine-facts';
export { SwarmFacts } from './swarm-facts';
export type { LocalSwarmNode, SwarmNode } from './swarm-facts';
