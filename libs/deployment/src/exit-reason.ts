import type { ContainerState } from './types';

/** What a reason is made of: a listed or an inspected container both have it. */
type ExitFacts = Pick<ContainerState, 'status' | 'exitCode' | 'oomKilled'>;

/**
 * Exit codes above 128 are "killed by signal (code - 128)" by shell convention, which Docker
 * follows. Container signal numbers are Linux's whatever the host running sandboxd is, hence a
 * fixed table rather than os.constants.signals.
 */
const LINUX_SIGNALS: Record<number, string> = {
  1: 'SIGHUP',
  2: 'SIGINT',
  3: 'SIGQUIT',
  4: 'SIGILL',
  6: 'SIGABRT',
  7: 'SIGBUS',
  8: 'SIGFPE',
  9: 'SIGKILL',
  11: 'SIGSEGV',
  13: 'SIGPIPE',
  15: 'SIGTERM',
};

function exitDetail(state: ExitFacts): string {
  // The kernel's OOM killer sends SIGKILL, so 137 + OOMKilled says more than "SIGKILL".
  if (state.oomKilled) return ' (OOM-killed)';
  const code = state.exitCode;
  if (code === null || code <= 128) return '';
  const signal = LINUX_SIGNALS[code - 128];
  return signal ? ` (killed by ${signal})` : '';
}

/**
 * Why a sandbox's container is not (or no longer) running, in words for a sandbox's status
 * message. Pure: the caller inspects and passes null for a container that no longer exists.
 */
export function exitReason(state: ExitFacts | null): string {
  if (state === null) return 'container was removed outside sandboxd';
  switch (state.status) {
    case 'running':
      return 'container is running';
    case 'paused':
      return 'container is paused';
    case 'restarting':
      return 'container is restarting';
    case 'removing':
      return 'container is being removed';
    case 'dead':
      return 'container is dead (the engine failed to remove it)';
    case 'created':
      return 'container was created but never started';
  }
  if (state.exitCode !== null) {
    return `container exited with code ${state.exitCode}${exitDetail(state)}`;
  }
  return state.oomKilled ? 'container was OOM-killed' : `container is ${state.status}`;
}
