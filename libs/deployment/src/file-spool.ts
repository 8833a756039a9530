import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { fileTooLarge } from './file-errors';
import { readChunks, reportedElsewhere, toBuffer } from './file-stream';

/**
 * A stream of unknown length (a chunked upload) written to a private temporary file, so that its
 * size is known before the tar entry that carries it is started (a tar header states the size up
 * front). Memory stays at one chunk whatever the framing; disk holds at most maxBytes per upload,
 * in a 0700 directory under the OS temp dir, removed as soon as the upload is done or failed.
 */
export interface Spooled {
  file: string;
  size: number;
  remove(): Promise<void>;
}

export async function spool(
  data: Readable,
  path: string,
  maxBytes: number,
  signal?: AbortSignal,
): Promise<Spooled> {
  const dir = await mkdtemp(join(tmpdir(), 'sandboxd-upload-'));
  const remove = (): Promise<void> => rm(dir, { recursive: true, force: true });
  const file = join(dir, 'body');
  const out = createWriteStream(file, { mode: 0o600, flags: 'wx' });
  // Failures surface through the awaits below; the listener keeps one from being uncaught.
  out.on('error', reportedElsewhere);
  let size = 0;
  try {
    for await (const chunk of readChunks(data)) {
      signal?.throwIfAborted();
      const bytes = toBuffer(chunk);
      size += bytes.length;
      // The rest of the body is left unread, not destroyed: the edge still answers 413.
      if (size > maxBytes) throw fileTooLarge(path, maxBytes);
      if (!out.write(bytes)) await once(out, 'drain', { signal });
    }
    out.end();
    await finished(out);
    return { file, size, remove };
  } catch (error) {
    out.destroy();
    await remove();
    throw error;
  }
}
