import { validationError } from '@app/domain';
import { chmod, lstat, mkdir, rm } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';

/**
 * 0777: the directory is bind-mounted into the sandbox, whose processes run as whatever user the
 * image chooses; their uid is unknown here, and 0755 would leave a non-root sandbox user unable to
 * write its own logs. The exposure on the host is closed one level up: the log root is created
 * 0700 (owned by root), so other host users cannot reach the world-writable directories, while the
 * bind mount inside the container does not depend on the root's mode.
 */
export const LOG_DIR_MODE = 0o777;
export const LOG_ROOT_MODE = 0o700;

/** One path segment: letters, digits, `_ . -`; not `.` or `..`. Sandbox ids are far narrower. */
const SEGMENT = /^(?!\.{1,2}$)[A-Za-z0-9_.-]{1,128}$/;

/** `<root>/<sandboxId>`, refusing anything that would not be a direct child of root. */
export function logDirPath(root: string, sandboxId: string): string {
  if (!isAbsolute(root)) throw validationError('logRoot', `must be an absolute path, got ${root}`);
  if (!SEGMENT.test(sandboxId)) {
    throw validationError(
      'sandboxId',
      `not usable as a directory name: ${JSON.stringify(sandboxId)}`,
    );
  }
  const base = resolve(root);
  const dir = join(base, sandboxId);
  if (resolve(dir, '..') !== base) throw validationError('sandboxId', 'escapes the log root');
  return dir;
}

/**
 * Creates the sandbox's log dir (and the root if missing) and returns its path. Idempotent. An
 * existing root keeps the mode the operator gave it. The mode is set with chmod because mkdir's is
 * filtered by the umask. A symlink where the directory should be is refused: it would send the
 * sandbox's writes (and the quota binding) somewhere else.
 */
export async function ensureLogDir(root: string, sandboxId: string): Promise<string> {
  const dir = logDirPath(root, sandboxId);
  await mkdir(resolve(root), { recursive: true, mode: LOG_ROOT_MODE });
  try {
    await mkdir(dir, { mode: LOG_DIR_MODE });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const stats = await lstat(dir);
  if (!stats.isDirectory()) {
    throw validationError('sandboxId', `${dir} exists and is not a directory`);
  }
  await chmod(dir, LOG_DIR_MODE);
  return dir;
}

/**
 * Makes sure LOG_ROOT, if it exists, is a real directory, and only its owner can enter it: the log dirs
 * under it are world-writable (see LOG_DIR_MODE), so a root others can traverse would hand them
 * whatever a sandbox wrote. Missing parts are created 0700. A root of ours with group or other bits
 * is tightened to 0700 (the return value says so, for the start-up log) rather than refused: the
 * directory is sandboxd's own and nothing else should use it. A symlink, or a root owned by another
 * user that others can enter, is refused (thrown), since chmod there would be a guess.
 */
export async function secureLogRoot(root: string): Promise<string | null> {
  const base = resolve(root);
  // Missing: nothing to check; the first log dir creates it (and its missing parents) 0700.
  const stats = await lstat(base).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (stats === null) return null;
  if (stats.isSymbolicLink() || !stats.isDirectory()) {
    throw validationError('LOG_ROOT', `${base} must be a directory, not a symlink or a file`);
  }
  if ((stats.mode & 0o077) === 0) return null;
  const uid = process.getuid?.();
  if (uid !== undefined && stats.uid !== uid) {
    throw validationError(
      'LOG_ROOT',
      `${base} is owned by uid ${stats.uid} and can be entered by other users (mode ${(stats.mode & 0o777).toString(8)}); make it 0700 and owned by the service user`,
    );
  }
  await chmod(base, LOG_ROOT_MODE);
  return `LOG_ROOT ${base} had mode ${(stats.mode & 0o777).toString(8)}; tightened to 0700 so other users cannot reach the sandboxes' log dirs`;
}

/**
 * Deletes the sandbox's log dir and everything in it. Idempotent: a missing dir is fine. fs.rm
 * unlinks a symlink inside rather than following it, so a link a sandbox planted to a host path
 * only removes the link.
 */
export async function removeLogDir(root: string, sandboxId: string): Promise<void> {
  await rm(logDirPath(root, sandboxId), { recursive: true, force: true });
}
