import type { Request, Response } from 'express';
import type { SandboxEventRecord } from '@app/domain';

/** A comment line this often keeps proxies and clients from closing a quiet stream. */
export const SSE_HEARTBEAT_MS = 15_000;

/**
 * Writes events as Server-Sent Events (`id`, `event`, `data`) until the client goes. Each event's
 * id is its log id, so a client that reconnects with Last-Event-ID resumes right after the last
 * one it received. A client that does not read holds the stream back (no unbounded buffering).
 */
export async function streamEvents(
  request: Request,
  response: Response,
  events: (signal: AbortSignal) => AsyncIterable<SandboxEventRecord>,
): Promise<void> {
  const gone = new AbortController();
  const stop = (): void => gone.abort();
  request.on('close', stop);
  response.on('close', stop);
  response.status(200);
  response.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  response.setHeader('Cache-Control', 'no-cache, no-transform');
  response.setHeader('Connection', 'keep-alive');
  response.setHeader('X-Accel-Buffering', 'no');
  response.flushHeaders();
  // Tells EventSource how long to wait before reconnecting.
  await write(response, 'retry: 1000\n\n', gone.signal);
  const heartbeat = setInterval(
    () => void write(response, ': keepalive\n\n', gone.signal),
    SSE_HEARTBEAT_MS,
  );
  try {
    for await (const event of events(gone.signal)) {
      await write(
        response,
        `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`,
        gone.signal,
      );
      if (gone.signal.aborted) break;
    }
  } finally {
    clearInterval(heartbeat);
    request.off('close', stop);
    response.off('close', stop);
    if (!response.writableEnded) response.end();
  }
}

/** Writes a chunk; when the socket's buffer is full, waits for it to drain (or the client to go). */
function write(response: Response, chunk: string, signal: AbortSignal): Promise<void> {
  if (signal.aborted || response.writableEnded) return Promise.resolve();
  if (response.write(chunk)) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      response.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    response.on('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}
