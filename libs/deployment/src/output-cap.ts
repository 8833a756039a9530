/**
 * Caps one output stream of a process. Bytes past the limit are counted and dropped rather than
 * left unread: a process blocked on a full pipe would never exit, and its output never end.
 */
export class OutputCap {
  private kept = 0;
  private dropped = 0;

  constructor(private readonly limit: number) {}

  /** The part of `chunk` still within the limit; empty once the limit is reached. */
  take(chunk: Buffer): Buffer {
    const room = Math.max(0, this.limit - this.kept);
    const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.kept += part.length;
    this.dropped += chunk.length - part.length;
    return part;
  }

  get truncated(): boolean {
    return this.dropped > 0;
  }

  get droppedBytes(): number {
    return this.dropped;
  }
}
