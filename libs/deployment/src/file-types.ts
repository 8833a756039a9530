import type { Readable } from 'node:stream';

export type FileType = 'file' | 'directory' | 'symlink' | 'other';

/** One path as the engine's archive API sees it (the link itself for a symlink). */
export interface FileInfo {
  path: string;
  name: string;
  type: FileType;
  size: number;
  /** Permission bits with setuid/setgid/sticky, as in chmod (e.g. 0o644). */
  mode: number;
  mtime: Date;
  /**
   * For a symlink: its target, resolved by the engine inside the container's root (absolute,
   * every link on the way followed). null otherwise.
   */
  linkTarget: string | null;
}

export interface DirEntry {
  name: string;
  type: FileType;
  size: number;
  mode: number;
  mtime: Date;
  /** For a symlink: its target as stored, unresolved. null otherwise. */
  linkTarget: string | null;
}

export interface DirListing {
  path: string;
  entries: DirEntry[];
  /** The listing stopped at a limit (entries or bytes scanned) before the end. */
  truncated: boolean;
}

export interface ListOptions {
  /** At most this many entries (default 10 000). */
  maxEntries?: number;
  /**
   * The engine sends a directory as a tar of its whole subtree, contents included; the listing
   * stops (truncated) after reading this many bytes of it (default 64 MiB).
   */
  maxScanBytes?: number;
  signal?: AbortSignal;
}

export interface ReadOptions extends ListOptions {
  /** A larger file is refused before any of it is read. */
  maxBytes: number;
}

export type FileRead =
  | { kind: 'file'; info: FileInfo; content: Readable }
  | ({ kind: 'directory'; info: FileInfo } & DirListing);

export interface WriteOptions {
  /** Permission bits, default 0o644. */
  mode?: number;
  /** Owner of the file, numeric; the engine's default (root) when absent. */
  uid?: number;
  gid?: number;
  maxBytes: number;
  /**
   * Byte length of a Readable `data`. Known: streamed straight through. Unknown: spooled to a
   * private temporary file first (at most maxBytes), as a tar entry must state its size up front.
   */
  size?: number;
  signal?: AbortSignal;
}
