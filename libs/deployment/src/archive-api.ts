import { CodedError } from '@app/domain';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import {
  engineMessage,
  httpStatus,
  isEngineUnreachable,
  isNotFound,
  runtimeUnavailable,
} from './docker-errors';
import { parsePathStat } from './file-info';
import type { FileInfo } from './file-types';

/**
 * Typed wrappers of the engine's archive endpoints (dockerode types them loosely). They work on
 * stopped containers too: the engine mounts the container's file system for the call. Paths are
 * resolved by the engine inside the container's root, symlinks included.
 */

/**
 * The engine's messages name the container's mount on the host (`lstat /var/lib/docker/overlay2/
 * <id>/merged/tmp/x: ...`); callers only learn the path inside the container.
 */
export function withoutHostPaths(text: string): string {
  return text.replace(/\/[^\s:]*?\/(merged|rootfs)(?=\/)/g, '');
}

/** A path that cannot exist because a component on the way is not a directory. */
function isThroughFile(error: unknown): boolean {
  return /not a directory/i.test(engineMessage(error));
}

/** Errors of archive calls other than "no such path", which each caller handles itself. */
export function archiveEngineError(
  error: unknown,
  containerId: string,
  context: string,
): CodedError {
  if (error instanceof CodedError) return error;
  if (isEngineUnreachable(error)) return runtimeUnavailable(error);
  const message = `${context}: ${withoutHostPaths(engineMessage(error))}`;
  // The engine resolves symlinks inside the container's root and gives up on a loop (ELOOP).
  if (/too many (levels of symbolic )?links/i.test(message)) {
    return new CodedError('SYMLINK_LOOP', `${message} (a symlink loop)`, {
      containerId,
      fields: { path: ['too many levels of symbolic links'] },
    });
  }
  const code =
    isNotFound(error) && /no such container/i.test(message)
      ? 'CONTAINER_MISSING'
      : 'CONTAINER_FAILED';
  return new CodedError(code, message, { containerId }, { cause: error });
}

/**
 * A 404 of the archive API means either no such container or no such path, and a HEAD answer has
 * no body to tell which: the container is looked up to decide. Returns normally for "no path".
 */
export async function assertContainerExists(docker: Dockerode, containerId: string): Promise<void> {
  try {
    await docker.getContainer(containerId).inspect();
  } catch (error) {
    throw archiveEngineError(error, containerId, `no such container: ${containerId}`);
  }
}

/** The engine's stat of `path` (a symlink itself, not its target); null when it does not exist. */
export async function statPath(
  docker: Dockerode,
  containerId: string,
  path: string,
  signal?: AbortSignal,
): Promise<FileInfo | null> {
  let response: IncomingMessage;
  try {
    response = (await docker
      .getContainer(containerId)
      .infoArchive({ path, abortSignal: signal })) as IncomingMessage;
  } catch (error) {
    if (isNotFound(error)) {
      await assertContainerExists(docker, containerId);
      return null;
    }
    if (httpStatus(error) === 500) return statFailure(docker, containerId, path, signal);
    throw archiveEngineError(error, containerId, `could not stat ${path}`);
  }
  response.resume();
  const header = response.headers['x-docker-container-path-stat'];
  if (typeof header !== 'string') {
    throw new CodedError('CONTAINER_FAILED', `the engine sent no stat for ${path}`, {
      containerId,
    });
  }
  return parsePathStat(path, header);
}

/**
 * A HEAD answer has no body, so a 500 says nothing. The same path is asked for with GET to learn
 * why: a component that is not a directory means "no such path"; anything else is reported.
 */
async function statFailure(
  docker: Dockerode,
  containerId: string,
  path: string,
  signal?: AbortSignal,
): Promise<null> {
  const archive = await getArchive(docker, containerId, path, signal);
  archive?.destroy();
  if (archive === null) return null;
  throw new CodedError('CONTAINER_FAILED', `the engine could not stat ${path}`, { containerId });
}

/** The tar of `path`; null when it does not exist. */
export async function getArchive(
  docker: Dockerode,
  containerId: string,
  path: string,
  signal?: AbortSignal,
): Promise<Readable | null> {
  try {
    return (await docker
      .getContainer(containerId)
      .getArchive({ path, abortSignal: signal })) as unknown as Readable;
  } catch (error) {
    if (isNotFound(error) && !/no such container/i.test(engineMessage(error))) return null;
    if (isThroughFile(error)) return null;
    throw archiveEngineError(error, containerId, `could not read ${path}`);
  }
}

export interface PutOptions {
  /** Apply the tar's uid/gid instead of the engine's default owner (root). */
  copyOwner: boolean;
  signal?: AbortSignal;
}

/**
 * Extracts a tar into directory `dir`. `noOverwriteDirNonDir` makes the engine refuse to replace a
 * directory by a file (by default it would delete the directory, recursively). The tar must be a
 * Buffer or stream: dockerode would read a string as a path on *this* host.
 */
export async function putArchive(
  docker: Dockerode,
  containerId: string,
  dir: string,
  tar: Buffer | Readable,
  options: PutOptions,
): Promise<void> {
  await docker.getContainer(containerId).putArchive(tar, {
    path: dir,
    noOverwriteDirNonDir: true,
    copyUIDGID: options.copyOwner,
    abortSignal: options.signal,
  });
}
