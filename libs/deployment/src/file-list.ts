import type Dockerode from 'dockerode';
import { extract } from 'tar-stream';
import { getArchive, statPath } from './archive-api';
import { runExec } from './exec-runner';
import type { ExecResult } from './exec-types';
import type { DirEntry, DirListing, FileInfo } from './file-types';

/**
 * A directory listing that never reads file contents. The archive API can only send a directory
 * as a tar of its whole subtree, contents included, so a listing read that way was cut short by a
 * single large file. Here the names come from `find <dir> -mindepth 1 -maxdepth 1 -print0` run in
 * the container as root (NUL-separated, so any name survives), and each entry from the engine's stat of
 * it (a HEAD request, no body). Needs a running container with a `find` (busybox or findutils);
 * returns null otherwise, and the caller falls back to the archive.
 */

const FIND_TIMEOUT_MS = 30_000;
/** Room for the names of maxEntries entries of the longest length, and one more. */
const NAME_BYTES = 256;
const STAT_CONCURRENCY = 16;

export async function listByNames(
  docker: Dockerode,
  containerId: string,
  dir: FileInfo,
  maxEntries: number,
  signal?: AbortSignal,
): Promise<DirListing | null> {
  const names = await childNames(docker, containerId, dir.path, maxEntries, signal);
  if (names === null) return null;
  const prefix = dir.path === '/' ? '/' : `${dir.path}/`;
  const entries: DirEntry[] = [];
  const chosen = names.list.slice(0, maxEntries);
  for (let i = 0; i < chosen.length; i += STAT_CONCURRENCY) {
    const infos = await Promise.all(
      chosen
        .slice(i, i + STAT_CONCURRENCY)
        .map((name) => statPath(docker, containerId, `${prefix}${name}`, signal)),
    );
    for (const info of infos) {
      // Gone between find and stat: not listed, as it would not be a moment later.
      if (info === null) continue;
      const { name, type, size, mode, mtime } = info;
      const linkTarget =
        type === 'symlink' ? await storedLinkTarget(docker, containerId, info, signal) : null;
      entries.push({ name, type, size, mode, mtime, linkTarget });
    }
  }
  return {
    path: dir.path,
    entries,
    truncated: names.truncated || names.list.length > maxEntries,
  };
}

async function childNames(
  docker: Dockerode,
  containerId: string,
  path: string,
  maxEntries: number,
  signal?: AbortSignal,
): Promise<{ list: string[]; truncated: boolean } | null> {
  const find = ['find', path, '-mindepth', '1', '-maxdepth', '1', '-print0'];
  // A find on the PATH, else busybox's applet through its shell (images such as busybox-static
  // link no /bin/find); the path is an argument, never part of the script.
  const result =
    (await tryExec(docker, containerId, find, path, maxEntries, signal)) ??
    (await tryExec(
      docker,
      containerId,
      ['sh', '-c', 'find "$1" -mindepth 1 -maxdepth 1 -print0', 'sh', path],
      path,
      maxEntries,
      signal,
    ));
  if (result === null) return null;
  const prefix = path === '/' ? '/' : `${path}/`;
  const parts = result.stdout.toString('utf8').split('\0');
  // The last part is empty after a complete output, or a name cut by the output limit.
  parts.pop();
  const list = parts
    .filter((full) => full.startsWith(prefix) && !full.slice(prefix.length).includes('/'))
    .map((full) => full.slice(prefix.length))
    .filter((name) => name.length > 0)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { list, truncated: result.truncated };
}

/** The command's output when it ran and exited 0; null when it could not (or failed). */
async function tryExec(
  docker: Dockerode,
  containerId: string,
  argv: string[],
  path: string,
  maxEntries: number,
  signal?: AbortSignal,
): Promise<ExecResult | null> {
  let result: ExecResult;
  try {
    result = await runExec(
      docker,
      containerId,
      {
        argv,
        user: '0',
        timeoutMs: FIND_TIMEOUT_MS,
        outputLimitBytes: (maxEntries + 1) * (path.length + 1 + NAME_BYTES),
      },
      signal,
    );
  } catch (error) {
    if (signal?.aborted) throw error;
    // Stopped container, no such program, engine refusing exec: the caller falls back.
    return null;
  }
  return result.exitCode === 0 && !result.timedOut ? result : null;
}

/**
 * A symlink's target as stored (the stat gives it resolved): the archive of the link itself is
 * one header and no content.
 */
async function storedLinkTarget(
  docker: Dockerode,
  containerId: string,
  link: FileInfo,
  signal?: AbortSignal,
): Promise<string | null> {
  const archive = await getArchive(docker, containerId, link.path, signal);
  if (archive === null) return link.linkTarget;
  const tar = extract();
  archive.on('error', (error) => tar.destroy(error));
  archive.pipe(tar);
  try {
    for await (const entry of tar) {
      entry.resume();
      return entry.header.type === 'symlink' ? (entry.header.linkname ?? null) : link.linkTarget;
    }
    return link.linkTarget;
  } finally {
    archive.destroy();
    tar.destroy();
  }
}
