export { DeploymentModule } from './deployment.module';
export { DockerDeployment } from './docker-deployment';
export { HostPortAllocator, PortLease } from './host-port-allocator';
export { buildContainerConfig, containerNameFor, requestedPorts } from './container-config';
export type { ContainerConfigSettings } from './container-config';
export { pickPorts } from './port-picker';
export type { PortRange } from './port-picker';
export { LABEL_INSTANCE, LABEL_MANAGED, LABEL_PREFIX, LABEL_SANDBOX_ID } from './labels';
export type {
  BeforeStartHook,
  ContainerSpec,
  ContainerState,
  EngineInfo,
  OwnedFilter,
} from './types';
