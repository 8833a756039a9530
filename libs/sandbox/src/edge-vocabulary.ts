/**
 * The storage limits and exec shapes the HTTP edge speaks in, re-exported so that the edge depends
 * on the domain (@app/domain, @app/sandbox) only, never on storage (meta-store) or Docker (deployment) directly;
 * ESLint holds apps/ to that.
 */
export { COLUMN_LIMITS } from '@app/meta-store';
export { EXEC_BUDGET_RETRY_AFTER_SECONDS } from '@app/deployment';
export type { ExecEvent, ExecResult } from '@app/deployment';
