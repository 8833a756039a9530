import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Whether the client hung up before its answer was complete: its request body stopped mid-way
 * (an aborted upload) or the connection closed while the answer was being written (an aborted
 * download or stream). Nobody is left to answer, and it is no fault of the server's.
 */
export function clientGone(req: IncomingMessage, res: ServerResponse): boolean {
  const bodyCut = req.destroyed && !req.complete;
  const answerCut = res.destroyed && !res.writableFinished;
  return bodyCut || answerCut;
}
