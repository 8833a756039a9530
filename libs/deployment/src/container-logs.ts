/**
 * Decoding of `docker logs` output for error messages. Without a TTY the engine multiplexes stdout
 * and stderr into frames: 1 byte stream type (1 = stdout, 2 = stderr), 3 zero bytes, a 4-byte
 * big-endian length, then the payload.
 */

const HEADER_LENGTH = 8;

function isMultiplexed(buffer: Buffer): boolean {
  return (
    buffer.length >= HEADER_LENGTH &&
    buffer[0] <= 2 &&
    buffer[1] === 0 &&
    buffer[2] === 0 &&
    buffer[3] === 0
  );
}

/** The text of a logs buffer, frames joined in order; a raw (TTY) buffer is returned as is. */
export function demuxLogs(buffer: Buffer): string {
  if (!isMultiplexed(buffer)) return buffer.toString('utf8');
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + HEADER_LENGTH <= buffer.length) {
    const length = buffer.readUInt32BE(offset + 4);
    const start = offset + HEADER_LENGTH;
    parts.push(buffer.subarray(start, Math.min(start + length, buffer.length)));
    offset = start + length;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** The last `count` non-empty lines, each cut to a sane length for an error message. */
export function lastLines(text: string, count: number, maxLineLength = 500): string[] {
  return text
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '')
    .slice(-count)
    .map((line) => (line.length > maxLineLength ? `${line.slice(0, maxLineLength)}…` : line));
}
