/**
 * Incremental decoder of the engine's multiplexed exec stream (no TTY): frames of an 8-byte header
 * (stream type 0/1/2, three zero bytes, big-endian payload length) and the payload. Payload bytes
 * are handed on as soon as they arrive, not once a frame is complete, so streaming stays live.
 *
 * A stream that does not start with a valid header is not multiplexed (an engine writing an error
 * unframed, or a TTY exec): it is reported as `raw` for the rest of the stream, never dropped.
 */

export type StreamPart =
  { kind: 'stdout' | 'stderr'; data: Buffer } | { kind: 'raw'; data: Buffer };

const HEADER_LENGTH = 8;

export class ExecFrameDecoder {
  private header = Buffer.alloc(0);
  private remaining = 0;
  private stream: 'stdout' | 'stderr' = 'stdout';
  private raw = false;

  push(chunk: Buffer): StreamPart[] {
    if (this.raw) return chunk.length > 0 ? [{ kind: 'raw', data: chunk }] : [];
    const parts: StreamPart[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.remaining > 0) {
        const end = Math.min(chunk.length, offset + this.remaining);
        parts.push({ kind: this.stream, data: chunk.subarray(offset, end) });
        this.remaining -= end - offset;
        offset = end;
        continue;
      }
      const needed = HEADER_LENGTH - this.header.length;
      const piece = chunk.subarray(offset, offset + needed);
      this.header = this.header.length === 0 ? piece : Buffer.concat([this.header, piece]);
      offset += piece.length;
      if (this.header.length < HEADER_LENGTH && !this.looksLikeHeader(this.header)) {
        return this.switchToRaw(parts, chunk.subarray(offset));
      }
      if (this.header.length < HEADER_LENGTH) break;
      if (!this.looksLikeHeader(this.header))
        return this.switchToRaw(parts, chunk.subarray(offset));
      this.stream = this.header[0] === 2 ? 'stderr' : 'stdout';
      this.remaining = this.header.readUInt32BE(4);
      this.header = Buffer.alloc(0);
    }
    return parts;
  }

  private looksLikeHeader(bytes: Buffer): boolean {
    for (let i = 0; i < Math.min(bytes.length, 4); i += 1) {
      if (i === 0 ? bytes[0] > 2 : bytes[i] !== 0) return false;
    }
    return true;
  }

  private switchToRaw(parts: StreamPart[], rest: Buffer): StreamPart[] {
    this.raw = true;
    parts.push({ kind: 'raw', data: Buffer.concat([this.header, rest]) });
    this.header = Buffer.alloc(0);
    return parts;
  }
}
