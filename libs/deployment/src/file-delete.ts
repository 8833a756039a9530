import { CodedError, isCodedError } from '@app/domain';
import type Dockerode from 'dockerode';
import { statPath } from './archive-api';
import { assertDeletable, mountPoints } from './file-guard';
import { runExec } from './exec-runner';
import { normalizeContainerPath } from './file-paths';

/**
 * The archive API cannot delete, so deletion runs `rm -rf -- <path>` inside the container as root
 * (the archive API itself writes as root too), no shell involved. The path is resolved by the
 * container's own kernel view, so a symlink on the way can never reach the host; a symlink at the
 * path is removed itself, not its target. Needs a running container and an `rm` in the image
 * (coreutils or busybox); without one the error says so. Deleting what is not there is a no-op.
 * Mount points, what holds one, and the kernel file systems are refused first (file-guard.ts).
 */

const RM_TIMEOUT_MS = 60_000;

export async function deletePath(
  docker: Dockerode,
  containerId: string,
  rawPath: string,
  signal?: AbortSignal,
): Promise<'deleted' | 'missing'> {
  const path = normalizeContainerPath(rawPath, { allowRoot: false });
  assertDeletable(path, await mountPoints(docker, containerId));
  if ((await statPath(docker, containerId, path, signal)) === null) return 'missing';
  let result;
  try {
    result = await runExec(
      docker,
      containerId,
      {
        argv: ['rm', '-rf', '--', path],
        user: '0',
        timeoutMs: RM_TIMEOUT_MS,
        outputLimitBytes: 4096,
      },
      signal,
    );
  } catch (error) {
    if (isCodedError(error, 'EXEC_FAILED')) {
      throw new CodedError(
        'EXEC_FAILED',
        `cannot delete ${path}: the image has no usable rm (${error.message})`,
        { containerId, path },
        { cause: error },
      );
    }
    throw error;
  }
  const stillThere = (await statPath(docker, containerId, path, signal)) !== null;
  if (result.exitCode !== 0 || stillThere) {
    const why = result.timedOut ? 'timed out' : result.stderr.toString('utf8').trim();
    throw new CodedError('CONTAINER_FAILED', `could not delete ${path}: ${why || 'rm failed'}`, {
      containerId,
      path,
      exitCode: result.exitCode,
    });
  }
  return 'deleted';
}
