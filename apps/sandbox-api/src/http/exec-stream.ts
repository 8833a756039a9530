import type { Response } from 'express';
import type { ExecEvent } from '@app/sandbox';
import { writeWithBackpressure } from './backpressure';

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
    const text =
      format === 'sse'
        ? `event: ${payload.type}\ndata: ${JSON.stringify(payload)}\n\n`
        : `${JSON.stringify(payload)}\n`;
    // A client that is gone ends the loop; the command is killed through the request's abort signal.
    if (!(await writeWithBackpressure(res, text))) return;
  }
  if (!res.destroyed) res.end();
}
