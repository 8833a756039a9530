import { validationError } from '@app/config';
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

/** Deletes the sandbox's log dir and everything in it. Idempotent: a missing dir is fine. */
export async function removeLogDir(root: string, sandboxId: string): Promise<void> {
  await rm(logDirPath(root, sandboxId), { recursive: true, force: true });
}
