import { validationError } from '@app/domain';
import { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { extract, type Extract } from 'tar-stream';
import { getArchive, statPath } from './archive-api';
import { fileNotFound, fileTooLarge, notAFile, symlinkLoop } from './file-errors';
import { directChild } from './file-info';
import { listByNames } from './file-list';
import { normalizeContainerPath } from './file-paths';
import type {
  DirEntry,
  DirListing,
  FileInfo,
  FileRead,
  ListOptions,
  ReadOptions,
} from './file-types';

/** stat, read and list through the engine's archive API. */

type Entry = Extract extends AsyncIterable<infer E> ? E : never;

function toBuffer(chunk: unknown): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
}

const DEFAULT_MAX_ENTRIES = 10_000;
const DEFAULT_MAX_SCAN_BYTES = 64 * 1024 * 1024;
const TAR_HEADER_BYTES = 512;
/** The engine already resolves a whole chain of links; more hops would mean a loop. */
const MAX_LINK_HOPS = 8;

function checkLimit(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw validationError(field, 'must be a non-negative integer');
  }
  return value;
}

/** The stat of what `path` names, its symlink followed (inside the container, by the engine). */
async function statFollowing(
  docker: Dockerode,
  containerId: string,
  path: string,
  signal?: AbortSignal,
): Promise<FileInfo> {
  let current = path;
  for (let hop = 0; hop <= MAX_LINK_HOPS; hop += 1) {
    const info = await statPath(docker, containerId, current, signal);
    if (info === null) throw fileNotFound(path);
    if (info.type !== 'symlink' || info.linkTarget === null) return info;
    current = normalizeContainerPath(info.linkTarget, { allowRoot: true });
  }
  throw symlinkLoop(path);
}

/** What `rawPath` names (symlinks followed), without reading its content or listing it. */
export function statPathFollowing(
  docker: Dockerode,
  containerId: string,
  rawPath: string,
  signal?: AbortSignal,
): Promise<FileInfo> {
  return statFollowing(
    docker,
    containerId,
    normalizeContainerPath(rawPath, { allowRoot: true }),
    signal,
  );
}

/** A regular file's content as a stream, or a directory's listing; symlinks are followed. */
export async function readPath(
  docker: Dockerode,
  containerId: string,
  rawPath: string,
  options: ReadOptions,
): Promise<FileRead> {
  const path = normalizeContainerPath(rawPath, { allowRoot: true });
  const maxBytes = checkLimit('maxBytes', options.maxBytes);
  const info = await statFollowing(docker, containerId, path, options.signal);
  if (info.type === 'directory') {
    return {
      kind: 'directory',
      info,
      ...(await scanDirectory(docker, containerId, info, options)),
    };
  }
  if (info.type !== 'file') throw notAFile(path, info.type);
  if (info.size > maxBytes) throw fileTooLarge(path, maxBytes, info.size);
  const archive = await getArchive(docker, containerId, info.path, options.signal);
  if (archive === null) throw fileNotFound(path);
  const tar = extract();
  archive.on('error', (error) => tar.destroy(error));
  archive.pipe(tar);
  const entries = tar[Symbol.asyncIterator]();
  const close = (): void => {
    archive.destroy();
    tar.destroy();
  };
  let first: IteratorResult<Entry>;
  try {
    first = await entries.next();
  } catch (error) {
    close();
    throw error;
  }
  // Replaced between the stat and the read (by a directory, a link...): refuse, never guess.
  if (first.done || first.value.header.type !== 'file') {
    close();
    throw notAFile(path, first.done ? 'nothing' : String(first.value.header.type));
  }
  const content = Readable.from(limited(first.value, path, maxBytes, close), { objectMode: false });
  return { kind: 'file', info, content };
}

/** The entry's bytes; fails if the file grew past the limit since the stat. */
async function* limited(
  entry: Entry,
  path: string,
  maxBytes: number,
  close: () => void,
): AsyncGenerator<Buffer> {
  let total = 0;
  try {
    for await (const chunk of entry) {
      const bytes = toBuffer(chunk);
      total += bytes.length;
      if (total > maxBytes) throw fileTooLarge(path, maxBytes);
      yield bytes;
    }
  } finally {
    close();
  }
}

/**
 * One level of a directory: by names and stats when the container can run `find` (file-list.ts),
 * else (a stopped container, an image without find) from the tar headers of its archive. The engine sends the whole
 * subtree with contents; those are read and dropped (a tar has no index to skip them by), within
 * maxScanBytes, and the request is dropped as soon as the listing is complete or cut.
 */
async function scanDirectory(
  docker: Dockerode,
  containerId: string,
  dir: FileInfo,
  options: ListOptions,
): Promise<DirListing> {
  const maxEntries = checkLimit('maxEntries', options.maxEntries ?? DEFAULT_MAX_ENTRIES);
  // Names and stats first: reads no file contents, so no large file cuts the listing short.
  const byNames = await listByNames(docker, containerId, dir, maxEntries, options.signal);
  if (byNames !== null) return byNames;
  const maxScanBytes = checkLimit('maxScanBytes', options.maxScanBytes ?? DEFAULT_MAX_SCAN_BYTES);
  const archive = await getArchive(docker, containerId, dir.path, options.signal);
  if (archive === null) throw fileNotFound(dir.path);
  const tar = extract();
  archive.on('error', (error) => tar.destroy(error));
  archive.pipe(tar);
  const entries: DirEntry[] = [];
  let truncated = false;
  try {
    truncated = await collectChildren(tar, entries, maxEntries, maxScanBytes);
  } finally {
    archive.destroy();
    tar.destroy();
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { path: dir.path, entries, truncated };
}

/** Fills `entries`; true when a limit cut the listing short. */
async function collectChildren(
  tar: Extract,
  entries: DirEntry[],
  maxEntries: number,
  maxScanBytes: number,
): Promise<boolean> {
  let rootName: string | null = null;
  let scanned = 0;
  for await (const entry of tar) {
    scanned += TAR_HEADER_BYTES;
    if (rootName === null) {
      rootName = entry.header.name;
    } else {
      const child = directChild(rootName, entry.header);
      if (child !== null) {
        if (entries.length >= maxEntries) return true;
        entries.push(child);
      }
    }
    for await (const chunk of entry) {
      scanned += toBuffer(chunk).length;
      if (scanned > maxScanBytes) return true;
    }
    if (scanned > maxScanBytes) return true;
  }
  return false;
}
