/**
 * The sandbox model and exec shapes the HTTP edge speaks in, re-exported so that the edge depends
 * on the domain library only, never on storage (meta-store) or Docker (deployment) directly;
 * ESLint holds apps/ to that.
 */
export { COLUMN_LIMITS, SANDBOX_OPERATIONS, SANDBOX_STATES } from '@app/meta-store';
export type { SandboxInfo, SandboxOperation, SandboxState } from '@app/meta-store';
export { EXEC_BUDGET_RETRY_AFTER_SECONDS } from '@app/deployment';
export type { ExecEvent, ExecResult } from '@app/deployment';
