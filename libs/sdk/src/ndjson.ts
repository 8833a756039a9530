import { SandboxdError } from './errors';

/**
 * Parses newline-delimited JSON as the bytes arrive: a line (or a multi-byte character) may be
 * split across chunks, and several lines may share one. Blank lines are skipped.
 */
export async function* parseNdjson(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<unknown> {
  // stream: true keeps a character split between two chunks until its last byte arrives.
  const decoder = new TextDecoder('utf-8');
  let pending = '';
  for await (const chunk of chunks) {
    pending += decoder.decode(chunk, { stream: true });
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      const value = parseLine(line);
      if (value !== undefined) yield value;
      newline = pending.indexOf('\n');
    }
  }
  // A last line without its newline still counts.
  const value = parseLine(pending + decoder.decode());
  if (value !== undefined) yield value;
}

function parseLine(line: string): unknown {
  const text = line.trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw SandboxdError.client(
      'INVALID_RESPONSE',
      `the stream carried a line that is not JSON: ${text.slice(0, 100)}`,
      error,
    );
  }
}

/** The chunks of a fetch body, through its reader so that leaving early releases it. */
export async function* bodyChunks(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        return;
      }
      yield value;
    }
  } finally {
    // The request is aborted by the caller; cancel quietly, the stream may already be errored.
    if (!finished) await reader.cancel().catch(() => undefined);
  }
}
