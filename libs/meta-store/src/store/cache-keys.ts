/** The live snapshot of a sandbox (picked SandboxInfo JSON); present only while pending/running. */
export function aliveKey(sandboxId: string): string {
  return `sandbox:${sandboxId}:alive`;
}

/**
 * A key no longer written or read (it held a fourth copy of the idle deadline). Only evict still
 * deletes it, so a Redis upgraded from a version that wrote it is left with none.
 */
export function legacyTimeoutKey(sandboxId: string): string {
  return `sandbox:${sandboxId}:timeout`;
}

/** Sorted set of live sandboxes by auto-stop deadline (score: epoch ms, member: sandbox id). */
export const AUTO_STOP_INDEX_KEY = 'deadlines:auto-stop';

/** Present while AUTO_STOP_INDEX_KEY holds every live deadline; missing means "rebuild first". */
export const AUTO_STOP_INDEX_BUILT_KEY = 'deadlines:auto-stop:built';
