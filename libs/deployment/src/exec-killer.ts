import { describeError } from '@app/domain';
import { Logger } from '@nestjs/common';
import type Dockerode from 'dockerode';
import { hostProcesses, hostViewOf, type HostView } from './host-processes';
import { parseProcessTable, selectDoomed } from './process-tree';
import { ExecSession, type ExecTarget } from './exec-session';

/**
 * Kills the whole process tree of one exec. The engine has no exec-kill API, and closing the
 * connection leaves the process running, so this finds the processes itself: every process the
 * exec started carries its marker variable, and runc makes the exec's first process the leader of
 * a new session that its children stay in unless they leave it on purpose.
 *
 * 1. On the host (preferred): if our /proc shows the container's processes, which holds when this
 *    service runs on the Docker host in the host PID namespace and is checked each time, they are
 *    SIGKILLed from here. Nothing is needed inside the container: works on distroless images.
 * 2. Inside the container (fallback: service in its own PID namespace, or not allowed to signal):
 *    a short exec of `sh` lists /proc (using `grep` for the marker), a second one runs `kill`.
 *    Needs sh, grep and kill in the image (busybox or coreutils/procps images have them), and
 *    runs as the exec's user so it may read that user's environments and signal them.
 * Images with neither path (no shell, service not on the host) keep the processes: that is
 * logged, and the caller still gets its answer because the connection is dropped anyway.
 */

export interface KillOptions {
  /** false skips the host path (tests of the fallback). */
  allowHost?: boolean;
}

export interface KillReport {
  /** not-running: the container has stopped, which ended every process in it. */
  method: 'host' | 'container' | 'none' | 'not-running';
  killed: number;
  /** Processes still found after the last round. */
  remaining: number;
}

const ROUNDS = 4;
const SETTLE_MS = 20;
const HELPER_TIMEOUT_MS = 5_000;
const logger = new Logger('ExecKiller');

// Prints `pid state ppid pgrp session marked` per process. The command name is skipped by
// cutting up to the last ") ", as it may contain spaces and parentheses. grep without -F: busybox
// grep -F stops at the first NUL of an environ file; the marker holds no regex characters.
const LIST_SCRIPT = `m=$1
for d in /proc/[0-9]*; do
  { read -r s < "$d/stat"; } 2>/dev/null || continue
  s=\${s##*") "}
  set -- $s
  k=0
  grep -q "$m" "$d/environ" 2>/dev/null && k=1
  echo "\${d#/proc/} $1 $2 $3 $4 $k"
done`;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function killExecTree(
  target: ExecTarget,
  options: KillOptions = {},
): Promise<KillReport> {
  let report: KillReport | null = null;
  if (options.allowHost !== false) {
    try {
      report = await killOnHost(target);
    } catch (error) {
      logger.warn(`host-side kill failed, trying inside the container: ${describeError(error)}`);
    }
  }
  report ??= await killInContainer(target);
  if (report.method === 'none' || report.remaining > 0) {
    logger.warn(
      `exec in ${target.containerId}: ${report.remaining} process(es) may survive (method ${report.method})`,
    );
  }
  return report;
}

/** The exec's first process as a host PID, only while it runs (a dead one's PID may be reused). */
async function liveLeaderPid(exec: Dockerode.Exec): Promise<number | undefined> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const info = await exec.inspect();
    if (!info.Running) return undefined;
    if (info.Pid > 0) return info.Pid;
    await sleep(10);
  }
  return undefined;
}

/** null when the host path does not apply (other PID namespace, or not permitted). */
async function killOnHost(target: ExecTarget): Promise<KillReport | null> {
  const state = await target.docker.getContainer(target.containerId).inspect();
  if (!state.State.Running) return { method: 'not-running', killed: 0, remaining: 0 };
  const view = await hostViewOf(state.Id, state.State.Pid);
  if (view === null) return null;
  const leaderPid = await liveLeaderPid(target.exec);
  let killed = 0;
  for (let round = 0; round < ROUNDS; round += 1) {
    const doomed = await hostDoomed(view, target, leaderPid);
    if (doomed.length === 0) return { method: 'host', killed, remaining: 0 };
    for (const pid of doomed) {
      try {
        process.kill(pid, 'SIGKILL');
        killed += 1;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EPERM') return null;
        // ESRCH: it died meanwhile.
      }
    }
    await sleep(SETTLE_MS);
  }
  const remaining = (await hostDoomed(view, target, leaderPid)).length;
  return { method: 'host', killed, remaining };
}

async function hostDoomed(
  view: HostView,
  target: ExecTarget,
  leaderPid: number | undefined,
): Promise<number[]> {
  const entries = await hostProcesses(view, target.markerAssignment);
  return selectDoomed(entries, { leaderPid, protectedPids: [view.initPid] });
}

async function killInContainer(target: ExecTarget): Promise<KillReport> {
  let killed = 0;
  for (let round = 0; round < ROUNDS; round += 1) {
    const doomed = await containerDoomed(target);
    if (doomed === null) return { method: 'none', killed, remaining: 0 };
    if (doomed.length === 0) return { method: 'container', killed, remaining: 0 };
    // The shell's builtin kill: no separate kill binary needed. Some may have died meanwhile.
    await helper(target, ['sh', '-c', 'kill -KILL "$@" 2>/dev/null; true', 'sh', ...doomed]);
    killed += doomed.length;
    await sleep(SETTLE_MS);
  }
  const remaining = (await containerDoomed(target))?.length ?? 0;
  return { method: 'container', killed, remaining };
}

/** null when the listing cannot run (no sh in the image). */
async function containerDoomed(target: ExecTarget): Promise<string[] | null> {
  const listing = await helper(target, ['sh', '-c', LIST_SCRIPT, 'sh', target.markerAssignment]);
  if (listing === null || listing.exitCode !== 0) return null;
  // In-container PIDs: 1 is the container's init.
  return selectDoomed(parseProcessTable(listing.stdout), { protectedPids: [1] }).map(String);
}

async function helper(
  target: ExecTarget,
  argv: string[],
): Promise<{ exitCode: number | null; stdout: string } | null> {
  const chunks: Buffer[] = [];
  try {
    const session = await ExecSession.start(
      target.docker,
      target.containerId,
      { argv, user: target.user, timeoutMs: HELPER_TIMEOUT_MS, outputLimitBytes: 4 << 20 },
      (stream, data) => {
        if (stream === 'stdout') chunks.push(data);
      },
      { killer: null },
    );
    const outcome = await session.done;
    return { exitCode: outcome.exitCode, stdout: Buffer.concat(chunks).toString('utf8') };
  } catch (error) {
    logger.warn(`helper exec in ${target.containerId} failed: ${describeError(error)}`);
    return null;
  }
}
