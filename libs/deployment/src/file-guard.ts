import { CodedError } from '@app/domain';
import type Dockerode from 'dockerode';
import { archiveEngineError } from './archive-api';

/**
 * Paths the files API must not write or delete, because they are not the container's own files:
 *  - the pseudo file systems every container has (/proc, /sys, /dev and what is mounted below
 *    them): `rm -rf /dev` would remove /dev/null and break every later command in the sandbox;
 *  - the files Docker bind-mounts from the host (/etc/hosts, /etc/resolv.conf, /etc/hostname);
 *  - every other mount point the engine reports (volumes, binds such as the log directory,
 *    tmpfs): the mount point itself, and any directory holding one (deleting it would reach into
 *    the mount). Writing *inside* a directory mount stays allowed: that is what it is for.
 * Checked on the normalised path (and, for writes, on the symlink target the engine resolved).
 */

const PSEUDO_ROOTS = ['/proc', '/sys', '/dev'];
const DOCKER_FILE_MOUNTS = ['/etc/hosts', '/etc/resolv.conf', '/etc/hostname'];

/** Whether `path` is `root` or below it. */
function within(path: string, root: string): boolean {
  return path === root || path.startsWith(`${root}/`);
}

/** Mount points of the container as the engine reports them, plus the ones every container has. */
export async function mountPoints(docker: Dockerode, containerId: string): Promise<string[]> {
  let info: Dockerode.ContainerInspectInfo;
  try {
    info = await docker.getContainer(containerId).inspect();
  } catch (error) {
    throw archiveEngineError(error, containerId, 'could not inspect the container');
  }
  const mounts = (info.Mounts ?? []).map((mount) => mount.Destination);
  const tmpfs = Object.keys(info.HostConfig?.Tmpfs ?? {});
  return [...new Set([...PSEUDO_ROOTS, ...DOCKER_FILE_MOUNTS, ...mounts, ...tmpfs])];
}

function protectedPath(path: string, verb: string, why: string): CodedError {
  const problem = `cannot ${verb} ${why}`;
  return new CodedError('PATH_PROTECTED', `path ${path}: ${problem}`, {
    fields: { path: [problem] },
    path,
  });
}

/** Throws PATH_PROTECTED when writing a file at `path` would write into a mount that is not ours. */
export function assertWritable(path: string, mounts: string[]): void {
  const pseudo = PSEUDO_ROOTS.find((root) => within(path, root));
  if (pseudo !== undefined)
    throw protectedPath(path, 'write', `under ${pseudo}, a kernel file system`);
  if (mounts.includes(path)) throw protectedPath(path, 'write', 'a mount point');
}

/** Throws PATH_PROTECTED when removing `path` would remove or reach into a mount. */
export function assertDeletable(path: string, mounts: string[]): void {
  const pseudo = PSEUDO_ROOTS.find((root) => within(path, root));
  if (pseudo !== undefined) {
    throw protectedPath(path, 'delete', `under ${pseudo}, a kernel file system`);
  }
  const inside = mounts.find((mount) => within(mount, path));
  if (inside !== undefined) {
    throw protectedPath(
      path,
      'delete',
      inside === path ? 'a mount point' : `a directory holding the mount point ${inside}`,
    );
  }
}
