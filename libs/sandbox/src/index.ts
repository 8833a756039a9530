export { SandboxModule } from './sandbox.module';
export { SandboxService } from './sandbox.service';
export type { CreateOptions, CreateResult, ListQuery } from './sandbox.service';
export { SandboxMetrics } from './sandbox-metrics';
export type { CreateSandboxInput } from './create-sandbox.input';
export { MEMORY_SIZE_PATTERN, formatMemorySize, parseMemorySize } from './memory-size';
export { sandboxMachine, MACHINE_VERSION } from './sandbox.machine';
export { SandboxHealth } from './sandbox-health';
export type { DependencyCheck, Readiness } from './sandbox-health';
