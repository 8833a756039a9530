export { SandboxModule } from './sandbox.module';
export { SandboxService } from './sandbox.service';
export type { CreateOptions, CreateResult, ListQuery } from './sandbox.service';
export { SandboxMetrics } from './sandbox-metrics';
export { SandboxAccessTokens } from './sandbox-access-tokens';
export type { SandboxAccessToken } from './sandbox-access-tokens';
export type { CreateSandboxInput } from './create-sandbox.input';
export { MEMORY_SIZE_PATTERN, formatMemorySize, parseMemorySize } from './memory-size';
export {
  ENV_RULES,
  IMAGE_REFERENCE_PATTERN,
  LABEL_RULES,
  NODE_LABEL_RULES,
  MIN_MEMORY_BYTES,
  SANDBOX_NAME_PATTERN,
  isRequestedSize,
  requestedSizeProblem,
  stringMapProblem,
} from './create-request-rules';
export type { StringMapRules } from './create-request-rules';
export { sandboxMachine, MACHINE_VERSION, stateAllows, stateHasTag } from './sandbox.machine';
export type { Capability, SandboxTag, StateView } from './sandbox.machine';
export { SandboxEvents } from './sandbox-events';
export { SandboxAdmission } from './sandbox-admission';
export { EventFeed, EVENT_POLL_MS } from './events/event-feed';
export type { EventPage, EventQuery } from './events/event-feed';
export type { SandboxEvent, SandboxEventListener } from './sandbox-events';
export { SandboxHealth } from './sandbox-health';
export type { DependencyCheck, Readiness } from './sandbox-health';
export { SandboxAutomation } from './sandbox-automation';
export type { ScanResult } from './sandbox-automation';
export { SandboxReconciler, DRIFT_KINDS } from './sandbox-reconciler';
export type { DriftItem, DriftKind, ReconcileAction } from './sandbox-reconciler';
export { SandboxWorkService } from './sandbox-work.service';
export type { ExecInput, PortBinding } from './sandbox-work.service';
export { SandboxResources } from './sandbox-resources';
export { WarmPool } from './warm-pool/warm-pool';
export type { PoolMember, PoolStatus } from './warm-pool/warm-pool';
export { normalizeImage, poolKeyOf } from './warm-pool/pool-key';
export { COLUMN_LIMITS, EXEC_BUDGET_RETRY_AFTER_SECONDS } from './edge-vocabulary';
export type { ExecEvent, ExecResult } from './edge-vocabulary';
export { TenantService } from './tenant.service';
export type { TenantReport } from './tenant.service';
export { tenantQuotaRefusal } from './tenant-quota';
export type { TenantLimitName } from './tenant-quota';
export { NodeLoss } from './node-loss';
export { NODE_LOST_REASON } from './lifecycle-events';
export type { NodeLossResult } from './node-loss';
export { SandboxOwnership } from './sandbox-ownership';
export { SandboxRouting } from './sandbox-routing';
export type { ListenerPlane } from './sandbox-routing';
