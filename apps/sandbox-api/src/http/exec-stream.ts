import type { Response } from 'express';
import type { ExecEvent } from '@app/deployment';

export type StreamFormat = 'sse' | 'ndjson';

/** Which streaming format the Accept header asks for, or null for one buffered JSON answer. */
export function streamFormatOf(accept: string | undefined): StreamFormat | null {
  if (!accept) return null;
  if (accept.includes('text/event-stream')) return 'sse';
  if (accept.includes('application/x-ndjson')) return 'ndjson';
  return null;
}

/**
 * Writes exec events as they come: Server-Sent Events (`event: stdout|stderr|exit`, JSON data) or
 * one JSON object per line. Output chunks are UTF-8 text; the last event carries the exit code.
 */
export async function streamExec(
  res: Response,
  format: StreamFormat,
  events: AsyncIterable<ExecEvent>,
): Promise<void> {
  res.status(200);
  res.setHeader('Content-Type', format === 'sse' ? 'text/event-stream' : 'application/x-ndjson');
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
  for await (const event of events) {
    if (res.writableEnded || res.destroyed) break;
    const payload =
      event.type === 'exit'
        ? {
            type: 'exit',
            exitCode: event.exitCode,
            timedOut: event.timedOut,
            truncated: event.truncated,
            durationMs: event.durationMs,
          }
        : { type: event.type, data: event.data.toString('utf8') };
    await write(
      res,
      format === 'sse'
        ? `event: ${payload.type}\ndata: ${JSON.stringify(payload)}\n\n`
        : `${JSON.stringify(payload)}\n`,
    );
  }
  if (!res.destroyed) res.end();
}

/**
 * Writes and waits while the socket's buffer is full, so a client that reads slowly holds back
 * the command's output instead of piling it up in memory here. A closed connection ends the wait
 * (the loop above then stops; the command is killed through the request's abort signal).
 */
async function write(res: Response, text: string): Promise<void> {
  if (res.write(text) || res.destroyed) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
