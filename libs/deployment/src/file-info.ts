import type { Header } from 'tar-stream';
import type { DirEntry, FileInfo, FileType } from './file-types';

/**
 * Decoding what the engine's archive API reports: the `X-Docker-Container-Path-Stat` header (base64
 * JSON with a Go os.FileMode) and the tar headers of an archive. Pure, so unit-tested.
 */

// Go's os.FileMode keeps the type and special bits in the high bits, not where Unix keeps them.
const GO_DIR = 2 ** 31;
const GO_SYMLINK = 2 ** 27;
const GO_TYPE_OTHER = [2 ** 26, 2 ** 25, 2 ** 24, 2 ** 21, 2 ** 19]; // device, pipe, socket, char, irregular
const GO_SETUID = 2 ** 23;
const GO_SETGID = 2 ** 22;
const GO_STICKY = 2 ** 20;

function hasBit(mode: number, bit: number): boolean {
  return Math.floor(mode / bit) % 2 === 1;
}

export function goModeType(mode: number): FileType {
  if (hasBit(mode, GO_DIR)) return 'directory';
  if (hasBit(mode, GO_SYMLINK)) return 'symlink';
  return GO_TYPE_OTHER.some((bit) => hasBit(mode, bit)) ? 'other' : 'file';
}

/** Unix permission bits (with setuid 0o4000, setgid 0o2000, sticky 0o1000) of a Go mode. */
export function goModePermissions(mode: number): number {
  let bits = mode % 0o1000;
  if (hasBit(mode, GO_SETUID)) bits += 0o4000;
  if (hasBit(mode, GO_SETGID)) bits += 0o2000;
  if (hasBit(mode, GO_STICKY)) bits += 0o1000;
  return bits;
}

/** The decoded stat header of `path`; throws on a malformed one (an engine we do not understand). */
export function parsePathStat(path: string, header: string): FileInfo {
  const raw: unknown = JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
  const stat = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const { name, size, mode, mtime, linkTarget } = stat;
  if (typeof name !== 'string' || typeof size !== 'number' || typeof mode !== 'number') {
    throw new Error(`unexpected path stat from the engine: ${JSON.stringify(raw)}`);
  }
  const type = goModeType(mode);
  const modified = new Date(typeof mtime === 'string' ? mtime : 0);
  return {
    path,
    name,
    type,
    size,
    mode: goModePermissions(mode),
    mtime: Number.isNaN(modified.getTime()) ? new Date(0) : modified,
    linkTarget: type === 'symlink' && typeof linkTarget === 'string' ? linkTarget : null,
  };
}

function tarType(header: Header): FileType {
  switch (header.type) {
    case 'file':
    case 'contiguous-file':
    case 'link':
      // A hard link is a regular file stored once under its first name; its entry has no size.
      return 'file';
    case 'directory':
      return 'directory';
    case 'symlink':
      return 'symlink';
    case 'block-device':
    case 'character-device':
    case 'fifo':
      return 'other';
    default:
      // Types this tar library does not name (pax headers are consumed by it).
      return 'other';
  }
}

/**
 * The archive of directory `d` holds `d/`, then `d/x`, `d/sub/`, `d/sub/y` and so on (the engine
 * names the root `/` and its children `/x`). `rootName` is the first entry's name; a header is
 * a listed entry when it sits exactly one level below it.
 */
export function directChild(rootName: string, header: Header): DirEntry | null {
  const prefix = rootName.endsWith('/') ? rootName : `${rootName}/`;
  if (!header.name.startsWith(prefix)) return null;
  const rest = header.name.slice(prefix.length).replace(/\/+$/, '');
  if (rest === '' || rest.includes('/')) return null;
  const type = tarType(header);
  return {
    name: rest,
    type,
    size: type === 'file' ? header.size : 0,
    mode: header.mode & 0o7777,
    mtime: header.mtime,
    linkTarget: type === 'symlink' ? header.linkname : null,
  };
}
