import { SandboxdError } from './errors';
import { Transport, toSandboxdError } from './http';
import { bodyChunks, parseNdjson } from './ndjson';
import type { ExecEvent, ExecOptions, ExecRequest, ExecResult, OutputEncoding } from './types';

/** argv, or a string the sandbox runs with `sh -c`. */
export type Command = ExecRequest['command'];

function execBody(command: Command, options: ExecOptions): ExecRequest {
  const { env, cwd, user, stdin, timeoutSeconds, outputEncoding } = options;
  // The document types env as an empty record (see CreateSandboxRequest); it is a string map.
  return { command, env: env, cwd, user, stdin, timeoutSeconds, outputEncoding };
}

/**
 * The bytes of an exec's `stdout`/`stderr` (or of one streamed event's `data`) as the service sent
 * them in `encoding`: exact with `outputEncoding: 'base64'`; with `utf8`, the UTF-8 of the text
 * (bytes that were not UTF-8 were already replaced by U+FFFD).
 */
export function outputBytes(text: string, encoding: OutputEncoding = 'utf8'): Uint8Array {
  if (encoding === 'utf8') return new TextEncoder().encode(text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export async function runExec(
  transport: Transport,
  path: string,
  command: Command,
  options: ExecOptions,
): Promise<ExecResult> {
  return transport.json<ExecResult>({
    method: 'POST',
    path: `${path}/exec`,
    json: execBody(command, options),
    // A command may run as long as its own timeout, so the client's limit is only a margin on top;
    // without a command timeout the client waits as long as it takes, like the service does.
    ...(options.timeoutSeconds === undefined
      ? { timeoutMs: null }
      : { extraTimeoutMs: options.timeoutSeconds * 1000 }),
    signal: options.signal,
  });
}

/**
 * Streams a command's output as NDJSON events. Leaving the loop early (break, throw) aborts the
 * request; the service takes the closed connection as the signal to kill the command.
 */
export async function* streamExec(
  transport: Transport,
  path: string,
  command: Command,
  options: ExecOptions,
): AsyncGenerator<ExecEvent, void, undefined> {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort();
  if (options.signal?.aborted) controller.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const what = `POST ${path}/exec (stream)`;
  let exited = false;
  let events: AsyncGenerator<unknown> | undefined;
  try {
    const response = await transport.request(
      {
        method: 'POST',
        path: `${path}/exec`,
        json: execBody(command, options),
        accept: 'application/x-ndjson',
        timeoutMs: null,
        signal: controller.signal,
      },
      (r) => Promise.resolve(r),
    );
    if (!response.body) throw SandboxdError.client('INVALID_RESPONSE', `${what}: no body`);
    events = parseNdjson(bodyChunks(response.body));
    for (;;) {
      let next: IteratorResult<unknown>;
      try {
        next = await events.next();
      } catch (error) {
        throw toSandboxdError(error, controller.signal.aborted ? 'aborted' : null, what);
      }
      if (next.done) break;
      const event = toExecEvent(next.value);
      // Unknown event types are skipped, so a newer service can add some without breaking us.
      if (event === null) continue;
      if (event.type === 'exit') exited = true;
      yield event;
      if (exited) return;
    }
    throw SandboxdError.client('NETWORK_ERROR', `${what}: the stream ended before the exit event`);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    // Abort before releasing the reader, so the connection closes now rather than after a drain.
    if (!exited) controller.abort();
    await events?.return(undefined).catch(() => undefined);
  }
}

function toExecEvent(value: unknown): ExecEvent | null {
  if (typeof value !== 'object' || value === null) return null;
  const event = value as Record<string, unknown>;
  if ((event.type === 'stdout' || event.type === 'stderr') && typeof event.data === 'string') {
    return { type: event.type, data: event.data };
  }
  if (event.type === 'exit') {
    return {
      type: 'exit',
      exitCode: typeof event.exitCode === 'number' ? event.exitCode : null,
      timedOut: event.timedOut === true,
      truncated: event.truncated === true,
      durationMs: typeof event.durationMs === 'number' ? event.durationMs : 0,
    };
  }
  return null;
}
