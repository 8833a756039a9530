import type { SandboxInfo, SandboxState } from '@app/domain';

/**
 * When a sandbox stops or is deleted by itself. Pure rules, in one place:
 * - a live sandbox stops at the earlier of (last activity + idle timeout) and (start + max
 *   lifetime); 0 or null switches either off;
 * - a stopped sandbox is deleted at stop time + its autoDeleteSeconds, or the global default when
 *   it has none (-1 never; 0 at once). The deadline is absolute from the moment of the stop, so a
 *   later change of the global default moves no existing deadline.
 */
export type DeadlineInputs = Pick<
  SandboxInfo,
  'idleTimeoutSeconds' | 'maxLifetimeSeconds' | 'startedAt' | 'createdAt' | 'autoDeleteSeconds'
>;

export interface Deadlines {
  autoStopAt: string | null;
  autoDeleteAt: string | null;
}

export function autoStopAt(info: DeadlineInputs, lastActivity: Date): string | null {
  const candidates: number[] = [];
  if (info.idleTimeoutSeconds > 0) {
    candidates.push(lastActivity.getTime() + info.idleTimeoutSeconds * 1000);
  }
  const lifetimeEnd = maxLifetimeEnd(info);
  if (lifetimeEnd !== null) candidates.push(lifetimeEnd);
  return candidates.length === 0 ? null : new Date(Math.min(...candidates)).toISOString();
}

/** The effective delay from stop to deletion: the sandbox's own, else the global default. */
export function effectiveAutoDeleteSeconds(info: DeadlineInputs, globalDefault: number): number {
  return info.autoDeleteSeconds ?? globalDefault;
}

export function autoDeleteAt(
  info: DeadlineInputs,
  stoppedAt: Date,
  globalDefault: number,
): string | null {
  const seconds = effectiveAutoDeleteSeconds(info, globalDefault);
  return seconds < 0 ? null : new Date(stoppedAt.getTime() + seconds * 1000).toISOString();
}

/** The deadlines that hold right after entering `state` at `now`. */
export function deadlinesOnEntering(
  state: SandboxState,
  info: DeadlineInputs,
  now: Date,
  globalAutoDelete: number,
): Deadlines {
  switch (state) {
    case 'pending':
    case 'running':
      return { autoStopAt: autoStopAt(info, now), autoDeleteAt: null };
    case 'stopped':
      return { autoStopAt: null, autoDeleteAt: autoDeleteAt(info, now, globalAutoDelete) };
    case 'deleted':
      return { autoStopAt: null, autoDeleteAt: null };
  }
}

/** Why a due sandbox is stopped: the hard lifetime if that is what passed, else idleness. */
export function autoStopReason(info: DeadlineInputs, now: Date): 'max-lifetime' | 'idle-timeout' {
  const lifetimeEnd = maxLifetimeEnd(info);
  return lifetimeEnd !== null && now.getTime() >= lifetimeEnd ? 'max-lifetime' : 'idle-timeout';
}

function maxLifetimeEnd(info: DeadlineInputs): number | null {
  if (!info.maxLifetimeSeconds || info.maxLifetimeSeconds <= 0) return null;
  const start = Date.parse(info.startedAt ?? info.createdAt);
  return start + info.maxLifetimeSeconds * 1000;
}
