import type { Readable } from 'node:stream';

/** Small helpers shared by the file transfer code. */

export function toBuffer(chunk: unknown): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
}

/**
 * The chunks of `data`, without destroying it when the reader stops early (a limit, an engine
 * failure): destroying an HTTP request resets the connection before the client reads the answer
 * that explains why. A stream that fails (a client that went away) still throws its error.
 */
export function readChunks(data: Readable): AsyncIterable<unknown> {
  return typeof data.iterator === 'function' ? data.iterator({ destroyOnReturn: false }) : data;
}

/** An error listener for streams whose failures are reported another way (a promise). */
export function reportedElsewhere(): void {
  // Intentionally empty: see the callers.
}
