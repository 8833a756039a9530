import { StringDecoder } from 'node:string_decoder';
import { LABEL_INSTANCE, LABEL_SANDBOX_ID } from './labels';

/**
 * Decoding of the engine's `/events` stream: one JSON object per line. The stream is a plain HTTP
 * body, so a chunk may end mid-line (or mid-character) and a line may span several chunks.
 */

/** The container events that can mean a sandbox stopped being what sandboxd thinks it is. */
export const CONTAINER_EVENT_ACTIONS = ['die', 'oom', 'destroy'] as const;
export type ContainerEventAction = (typeof CONTAINER_EVENT_ACTIONS)[number];

export interface ContainerEvent {
  action: ContainerEventAction;
  containerId: string;
  /** From our labels, which the engine copies into every container event's attributes. */
  sandboxId: string | null;
  instanceId: string | null;
  /** Only `die` carries one. */
  exitCode: number | null;
  at: Date;
}

/** A line longer than this is not an event; dropping it keeps garbage from growing the buffer. */
const MAX_LINE_CHARS = 1024 * 1024;

/** Turns arbitrary chunks into complete lines, keeping the unfinished tail for the next chunk. */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private tail = '';

  push(chunk: Buffer | string): string[] {
    const text = this.tail + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
    const lines = text.split('\n');
    this.tail = lines.pop() ?? '';
    if (this.tail.length > MAX_LINE_CHARS) this.tail = '';
    return lines;
  }

  /** Forgets a partial line, e.g. when the connection it came from is gone. */
  reset(): void {
    this.tail = '';
    this.decoder.end();
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isAction(value: unknown): value is ContainerEventAction {
  return (CONTAINER_EVENT_ACTIONS as readonly unknown[]).includes(value);
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/** timeNano is exact; `time` (seconds) is the fallback of older engines. */
function timeOf(event: Record<string, unknown>): Date {
  if (typeof event.timeNano === 'number' && event.timeNano > 0) {
    return new Date(event.timeNano / 1e6);
  }
  if (typeof event.time === 'number' && event.time > 0) return new Date(event.time * 1000);
  return new Date();
}

/**
 * One event line as a ContainerEvent, or null for anything else: blank or malformed lines, other
 * object types, other actions. Never throws, since a bad line must not end the stream.
 */
export function parseEventLine(line: string): ContainerEvent | null {
  const trimmed = line.trim();
  if (trimmed === '') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    return null;
  }
  if (!isRecord(parsed)) return null;
  // `Type`/`Action`/`Actor` exist since API 1.22; `status`/`id` are the older spelling.
  if (parsed.Type !== undefined && parsed.Type !== 'container') return null;
  const action = parsed.Action ?? parsed.status;
  if (!isAction(action)) return null;
  const actor = isRecord(parsed.Actor) ? parsed.Actor : {};
  const containerId = text(actor.ID) ?? text(parsed.id);
  if (containerId === null) return null;
  const attributes = isRecord(actor.Attributes) ? actor.Attributes : {};
  const exitText = text(attributes.exitCode);
  return {
    action,
    containerId,
    sandboxId: text(attributes[LABEL_SANDBOX_ID]),
    instanceId: text(attributes[LABEL_INSTANCE]),
    exitCode: exitText !== null && /^-?\d+$/.test(exitText) ? Number(exitText) : null,
    at: timeOf(parsed),
  };
}
