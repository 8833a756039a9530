export { DeploymentModule } from './deployment.module';
export { DockerDeployment } from './docker-deployment';
export { HostPortAllocator, PortLease } from './host-port-allocator';
export { buildContainerConfig, containerNameFor, requestedPorts } from './container-config';
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
export { pickPorts } from './port-picker';
export type { PortRange } from './port-picker';
export {
  LABEL_INSTANCE,
  LABEL_MANAGED,
  LABEL_PREFIX,
  LABEL_SANDBOX_ID,
  ownedLabelFilters,
} from './labels';
export type {
  BeforeStartHook,
  ContainerSpec,
  ContainerState,
  EngineInfo,
  OwnedFilter,
} from './types';
