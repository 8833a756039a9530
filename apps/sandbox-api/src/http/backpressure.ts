import type { Response } from 'express';

/**
 * Writes `text` and, when the socket's buffer is full, waits until the client has taken it, so a
 * client that reads slowly holds back the producer instead of piling output up in memory here.
 * False once the client is gone (the caller stops; an exec is killed through the request's abort
 * signal).
 */
export async function writeWithBackpressure(res: Response, text: string): Promise<boolean> {
  if (res.destroyed) return false;
  if (res.write(text)) return true;
  await drained(res);
  return !res.destroyed;
}

/** Resolves once the socket buffer has drained, or the client is gone. */
export function drained(res: Response): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
