import { readdir, readFile, readlink } from 'node:fs/promises';
import { parseStat, type ProcessEntry } from './process-tree';

/**
 * The host side of killing an exec's process tree: when this service shares the engine's PID
 * namespace (it runs on the Docker host, as here), the container's processes are visible in our
 * own /proc under the PIDs the engine reports, and can be signalled directly. That needs no
 * program at all inside the container. Whether the view is real is checked, never assumed: the
 * process the engine names as the container's init must be in that container's cgroup.
 */

export interface HostView {
  /** The container's init, as a host PID: never killed. */
  initPid: number;
  /** `pid:[inode]` of the container's PID namespace; only processes in it are considered. */
  pidNamespace: string;
}

const PROC = '/proc';

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

async function namespaceOf(pid: number): Promise<string | null> {
  try {
    return await readlink(`${PROC}/${pid}/ns/pid`);
  } catch {
    return null;
  }
}

/** null when our /proc does not show this container's processes (another PID namespace). */
export async function hostViewOf(containerId: string, initPid: number): Promise<HostView | null> {
  if (!Number.isInteger(initPid) || initPid <= 0) return null;
  const cgroup = await readText(`${PROC}/${initPid}/cgroup`);
  if (cgroup === null || !cgroup.includes(containerId)) return null;
  const [theirs, ours] = await Promise.all([namespaceOf(initPid), namespaceOf(process.pid)]);
  // Same namespace as ours would mean the "container" shares ours: nothing to tell apart by. So
  // it is under gVisor (runsc), whose sandbox process the engine names as init and which runs the
  // container's processes in a kernel of its own, out of our /proc's sight: the kill then runs
  // inside the container (test/e2e/runsc-engine.e2e-spec.ts).
  if (theirs === null || theirs === ours) return null;
  return { initPid, pidNamespace: theirs };
}

/** Whether a NUL-separated environ block holds exactly `NAME=value`. */
export function environHas(environ: Buffer, assignment: string): boolean {
  const needle = Buffer.from(`\0${assignment}\0`);
  return Buffer.concat([Buffer.from('\0'), environ, Buffer.from('\0')]).includes(needle);
}

/**
 * The processes in the container's PID namespace, numbered as the host sees them. An environment
 * we may not read (another user's process, without privileges) counts as unmarked.
 */
export async function hostProcesses(view: HostView, assignment: string): Promise<ProcessEntry[]> {
  const names = await readdir(PROC);
  const entries = await Promise.all(
    names
      .filter((name) => /^\d+$/.test(name))
      .map(async (name): Promise<ProcessEntry | null> => {
        const pid = Number(name);
        if ((await namespaceOf(pid)) !== view.pidNamespace) return null;
        const stat = await readText(`${PROC}/${pid}/stat`);
        const fields = stat === null ? null : parseStat(pid, stat);
        if (fields === null) return null;
        let marked = false;
        try {
          marked = environHas(await readFile(`${PROC}/${pid}/environ`), assignment);
        } catch {
          marked = false;
        }
        return { ...fields, marked };
      }),
  );
  return entries.filter((entry): entry is ProcessEntry => entry !== null);
}
