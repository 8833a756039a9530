import { SandboxdError } from './errors';
import { Transport, parseJson } from './http';
import type { DirectoryListing, WrittenFile } from './types';

/** What a path holds: a file's bytes, or a directory's entries. */
export type PathContent =
  { kind: 'file'; data: Uint8Array } | { kind: 'directory'; listing: DirectoryListing };

/**
 * The same GET answers a file with its raw bytes and a directory with a JSON listing; only the
 * Content-Type tells them apart (a file may well contain JSON).
 */
export async function readPath(
  transport: Transport,
  base: string,
  path: string,
): Promise<PathContent> {
  return transport.request(
    { method: 'GET', path: `${base}/files`, query: { path }, accept: '*/*' },
    async (response) => {
      const type = response.headers.get('content-type') ?? '';
      if (/^application\/json\b/i.test(type)) {
        return { kind: 'directory', listing: parseJson<DirectoryListing>(await response.text()) };
      }
      return { kind: 'file', data: new Uint8Array(await response.arrayBuffer()) };
    },
  );
}

export async function readFile(
  transport: Transport,
  base: string,
  path: string,
): Promise<Uint8Array> {
  const content = await readPath(transport, base, path);
  if (content.kind === 'file') return content.data;
  throw SandboxdError.client('NOT_A_FILE', `${path} is a directory`);
}

export async function listDir(
  transport: Transport,
  base: string,
  path: string,
): Promise<DirectoryListing> {
  const content = await readPath(transport, base, path);
  if (content.kind === 'directory') return content.listing;
  throw SandboxdError.client('NOT_A_DIRECTORY', `${path} is a file`);
}

export interface WriteFileOptions {
  /** Octal file mode: 0o644 or '0644'. */
  mode?: number | string;
}

export async function writeFile(
  transport: Transport,
  base: string,
  path: string,
  data: Uint8Array | string,
  options: WriteFileOptions = {},
): Promise<WrittenFile> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  const mode =
    typeof options.mode === 'number' ? options.mode.toString(8).padStart(4, '0') : options.mode;
  return transport.json<WrittenFile>({
    method: 'PUT',
    path: `${base}/files`,
    query: { path, mode },
    raw: bytes,
    // Large uploads take longer than a typical call: allow for 1 MB/s on top of the usual limit.
    extraTimeoutMs: bytes.byteLength / 1000,
  });
}

export async function deleteFile(transport: Transport, base: string, path: string): Promise<void> {
  await transport.empty({ method: 'DELETE', path: `${base}/files`, query: { path } });
}
