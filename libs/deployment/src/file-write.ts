import { CodedError, validationError } from '@app/domain';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { pack, type Header, type Pack } from 'tar-stream';
import { archiveEngineError, putArchive, statPath } from './archive-api';
import { engineMessage, isNotFound } from './docker-errors';
import { fileNotFound, fileTooLarge, notADirectory, notAFile } from './file-errors';
import { normalizeContainerPath, splitPath } from './file-paths';
import { assertWritable, mountPoints } from './file-guard';
import { spool } from './file-spool';
import { readChunks, reportedElsewhere, toBuffer } from './file-stream';
import type { FileInfo, WriteOptions } from './file-types';

/**
 * Writes one file as a single tar entry extracted by the engine into the parent directory. The
 * parent must exist: creating missing directories through the archive API would also re-own and
 * re-mode existing ones, and replace a symlink on the way by a directory. A symlink at the path
 * itself is followed (inside the container), like `cp` onto a link. Not atomic: a concurrent
 * reader may see a partial file, and a streamed upload that fails midway may leave one.
 */

function checkOptions(options: WriteOptions): void {
  const { maxBytes, mode, uid, gid, size } = options;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw validationError('maxBytes', 'must be a non-negative integer');
  }
  if (mode !== undefined && (!Number.isInteger(mode) || mode < 0 || mode > 0o7777)) {
    throw validationError('mode', 'must be permission bits from 0 to 0o7777');
  }
  for (const [field, id] of [
    ['uid', uid],
    ['gid', gid],
  ] as const) {
    if (id !== undefined && (!Number.isInteger(id) || id < 0 || id > 0xfffffffe)) {
      throw validationError(field, 'must be a numeric id');
    }
  }
  if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) {
    throw validationError('size', 'must be a non-negative integer');
  }
}

export async function writePath(
  docker: Dockerode,
  containerId: string,
  rawPath: string,
  data: Buffer | Readable,
  options: WriteOptions,
): Promise<FileInfo> {
  const requested = normalizeContainerPath(rawPath, { allowRoot: false });
  checkOptions(options);
  const { maxBytes, signal } = options;
  if (Buffer.isBuffer(data) && data.length > maxBytes) {
    throw fileTooLarge(requested, maxBytes, data.length);
  }
  if (options.size !== undefined && options.size > maxBytes) {
    throw fileTooLarge(requested, maxBytes, options.size);
  }
  const mounts = await mountPoints(docker, containerId);
  assertWritable(requested, mounts);
  const path = await writeTarget(docker, containerId, requested, signal);
  assertWritable(path, mounts);
  const { parent, name } = splitPath(path);
  const header: Partial<Header> & { name: string } = {
    name,
    type: 'file',
    mode: options.mode ?? 0o644,
    mtime: new Date(),
    uid: options.uid ?? 0,
    gid: options.gid ?? 0,
  };
  const copyOwner = options.uid !== undefined || options.gid !== undefined;
  try {
    if (Buffer.isBuffer(data)) {
      const tar = await tarOf({ ...header, size: data.length }, data);
      await putArchive(docker, containerId, parent, tar, { copyOwner, signal });
    } else if (options.size !== undefined) {
      await streamUpload(docker, containerId, parent, { ...header, size: options.size }, data, {
        copyOwner,
        signal,
        path: requested,
      });
    } else {
      // Unknown length (chunked): spooled to disk first, then streamed like a known one.
      const spooled = await spool(data, requested, maxBytes, signal);
      try {
        const file = createReadStream(spooled.file);
        await streamUpload(docker, containerId, parent, { ...header, size: spooled.size }, file, {
          copyOwner,
          signal,
          path: requested,
        });
      } finally {
        await spooled.remove();
      }
    }
  } catch (error) {
    throw uploadError(error, containerId, parent, path);
  }
  const written = await statPath(docker, containerId, path, signal);
  if (written === null) throw fileNotFound(path);
  return written;
}

/** The path to write: `requested`, or where its symlink points. Refuses a directory. */
async function writeTarget(
  docker: Dockerode,
  containerId: string,
  requested: string,
  signal?: AbortSignal,
): Promise<string> {
  let info = await statPath(docker, containerId, requested, signal);
  let path = requested;
  if (info?.type === 'symlink' && info.linkTarget !== null) {
    path = normalizeContainerPath(info.linkTarget, { allowRoot: false });
    info = await statPath(docker, containerId, path, signal);
  }
  if (info !== null && info.type !== 'file') throw notAFile(requested, info.type);
  return path;
}

function uploadError(error: unknown, containerId: string, parent: string, path: string): unknown {
  if (error instanceof CodedError) return error;
  const message = engineMessage(error);
  if (isNotFound(error) && !/no such container/i.test(message)) return fileNotFound(parent);
  if (/not a directory/i.test(message)) return notADirectory(parent);
  if (/cannot overwrite directory/i.test(message)) return notAFile(path, 'directory');
  return archiveEngineError(error, containerId, `could not write ${path}`);
}

async function tarOf(header: Partial<Header> & { name: string }, bytes: Buffer): Promise<Buffer> {
  const tar = pack();
  tar.entry(header, bytes);
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar) chunks.push(toBuffer(chunk));
  return Buffer.concat(chunks);
}

/**
 * Streams `data` of announced size into the engine; a stream of another length aborts it. Every
 * stream here has an error listener: their failures are reported through `feed` and `upload`, and
 * an 'error' event nobody listens to (the tar entry's, when the client hangs up mid-body) would
 * otherwise take the whole process down.
 */
async function streamUpload(
  docker: Dockerode,
  containerId: string,
  parent: string,
  header: Partial<Header> & { name: string; size: number },
  data: Readable,
  options: { copyOwner: boolean; signal?: AbortSignal; path: string },
): Promise<void> {
  // Aborted when either side fails: stops feeding, and drops the request to the engine so it
  // never sees a complete entry.
  const failed = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, failed.signal]) : failed.signal;
  const tar = pack();
  tar.on('error', reportedElsewhere);
  const entry = tar.entry(header);
  entry.on('error', reportedElsewhere);
  // A Node stream for dockerode, which pipes it into the request.
  const body = Readable.from(tar, { objectMode: false });
  body.on('error', reportedElsewhere);
  const upload = putArchive(docker, containerId, parent, body, {
    copyOwner: options.copyOwner,
    signal,
  });
  upload.catch(() => failed.abort());
  const feed = feedEntry(entry, data, header.size, options.path, signal).then(
    () => tar.finalize(),
    (error: unknown) => {
      failed.abort();
      tar.destroy(error instanceof Error ? error : new Error(String(error)));
      throw error;
    },
  );
  const [fed, uploaded] = await Promise.allSettled([feed, upload]);
  // Our own verdict (too large, wrong length) explains more than the aborted request does, and
  // the body's own failure (the client went away) more than the engine's abort.
  if (fed.status === 'rejected' && !isAbort(fed.reason)) throw fed.reason;
  if (uploaded.status === 'rejected') throw uploaded.reason;
  if (fed.status === 'rejected') throw fed.reason;
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

async function feedEntry(
  entry: ReturnType<Pack['entry']>,
  data: Readable,
  size: number,
  path: string,
  signal: AbortSignal,
): Promise<void> {
  let total = 0;
  for await (const chunk of readChunks(data)) {
    signal.throwIfAborted();
    const bytes = toBuffer(chunk);
    total += bytes.length;
    if (total > size) throw fileTooLarge(path, size);
    if (!entry.write(bytes)) await once(entry, 'drain', { signal });
  }
  if (total !== size) throw validationError('size', `announced ${size} bytes, got ${total}`);
  entry.end(undefined);
}
