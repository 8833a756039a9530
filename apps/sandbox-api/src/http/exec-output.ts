import { StringDecoder } from 'node:string_decoder';
import type { Response } from 'express';
import type { ExecEvent, ExecResult } from '@app/sandbox';
import type { OutputEncoding } from '../dto/exec.dto';
import { drained, writeWithBackpressure } from './backpressure';

/**
 * How exec output leaves the service: `utf8` text (bytes that are not UTF-8 become U+FFFD) or
 * `base64` of the exact bytes, in the buffered JSON answer and in streamed events.
 */

/** Answers at most this big are written in one piece with a Content-Length, as res.json would. */
const ONE_PIECE_BYTES = 64 * 1024;
/** Raw bytes per written piece; a multiple of 3, so base64 pieces concatenate into one string. */
const PIECE_BYTES = 48 * 1024;

/**
 * Writes the buffered answer `{exitCode, timedOut, truncated, durationMs, outputEncoding, stdout,
 * stderr}`. A large one is written piece by piece, waiting for the client to take each: building
 * it as one string first cost up to 6 times the output (every NUL is `\u0000` in JSON), twice
 * over (the string, then its bytes), per request. Resolves once written, or once the client left.
 */
export async function writeExecAnswer(
  res: Response,
  result: ExecResult,
  encoding: OutputEncoding,
): Promise<void> {
  const head = {
    exitCode: result.exitCode,
    timedOut: result.timedOut,
    truncated: result.truncated,
    durationMs: result.durationMs,
    outputEncoding: encoding,
  };
  res.status(200);
  if (result.stdout.length + result.stderr.length <= ONE_PIECE_BYTES) {
    const stdout = encodeAll(result.stdout, encoding);
    const stderr = encodeAll(result.stderr, encoding);
    res.json({ ...head, stdout, stderr });
    return;
  }
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  const open = JSON.stringify(head).slice(0, -1);
  if (!(await writeWithBackpressure(res, `${open},"stdout":"`))) return;
  if (!(await sendString(res, result.stdout, encoding))) return;
  if (!(await writeWithBackpressure(res, '","stderr":"'))) return;
  if (!(await sendString(res, result.stderr, encoding))) return;
  res.end('"}');
}

/**
 * The events of a stream with their data re-encoded, so that the stream writer's UTF-8 reading
 * of each chunk yields the wanted text: base64 of the chunk, or the chunk's text with a character
 * split across two chunks kept whole (decoding chunks one by one turned both halves into U+FFFD).
 */
export async function* encodeExecEvents(
  events: AsyncIterable<ExecEvent>,
  encoding: OutputEncoding,
): AsyncGenerator<ExecEvent> {
  const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  for await (const event of events) {
    if (event.type === 'exit') {
      if (encoding === 'utf8') {
        for (const type of ['stdout', 'stderr'] as const) {
          const rest = decoders[type].end();
          if (rest.length > 0) yield { type, data: Buffer.from(rest, 'utf8') };
        }
      }
      yield event;
      continue;
    }
    if (encoding === 'base64') {
      yield { type: event.type, data: Buffer.from(event.data.toString('base64'), 'latin1') };
      continue;
    }
    const text = decoders[event.type].write(event.data);
    if (text.length > 0) yield { type: event.type, data: Buffer.from(text, 'utf8') };
  }
}

/**
 * The events, each next one only once the client has taken what was written before (the writer
 * pulls the next event right after each write). So a client that does not read holds back its
 * own command (the exec's queue pauses it) instead of its output piling up in the socket buffer.
 */
export async function* pacedToClient(
  events: AsyncIterable<ExecEvent>,
  res: Response,
): AsyncGenerator<ExecEvent> {
  for await (const event of events) {
    if (res.writableNeedDrain && !res.destroyed) await drained(res);
    yield event;
  }
}

function encodeAll(data: Buffer, encoding: OutputEncoding): string {
  return data.toString(encoding === 'base64' ? 'base64' : 'utf8');
}

/** The JSON string body (no quotes) of `data` in `encoding`, piece by piece. */
async function sendString(res: Response, data: Buffer, encoding: OutputEncoding): Promise<boolean> {
  const decoder = new StringDecoder('utf8');
  for (let offset = 0; offset < data.length; offset += PIECE_BYTES) {
    const piece = data.subarray(offset, offset + PIECE_BYTES);
    // Base64 has no characters JSON must escape; text goes through JSON.stringify's escaping.
    const text =
      encoding === 'base64'
        ? piece.toString('base64')
        : JSON.stringify(decoder.write(piece)).slice(1, -1);
    if (!(await writeWithBackpressure(res, text))) return false;
  }
  if (encoding === 'utf8') {
    const rest = decoder.end();
    if (rest.length > 0 && !(await writeWithBackpressure(res, JSON.stringify(rest).slice(1, -1))))
      return false;
  }
  return true;
}
