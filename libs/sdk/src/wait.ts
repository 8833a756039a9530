import type { SandboxState, SandboxView } from './types';

export interface WaitOptions {
  /** Give up after this long (default 60 s). */
  timeoutMs?: number;
  /** Time between two polls (default 500 ms). */
  intervalMs?: number;
}

export const DEFAULT_WAIT_TIMEOUT_MS = 60_000;
export const DEFAULT_WAIT_INTERVAL_MS = 500;

/**
 * Whether a sandbox has settled somewhere the wanted state cannot follow from without someone
 * acting: deleted is final, and a settled stop (a failed start, or a stop) never turns into running
 * by itself. A running sandbox may still be stopped by its idle timeout, so it is never a dead end.
 */
export function isDeadEnd(view: SandboxView, wanted: SandboxState): boolean {
  if (view.state === wanted || view.operation !== null) return false;
  if (view.state === 'deleted') return true;
  return view.state === 'stopped' && (wanted === 'running' || wanted === 'pending');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
