import {
  ClientRequest,
  request as httpRequest,
  IncomingMessage,
  OutgoingHttpHeaders,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import { CodedError } from '@app/domain';

/** The timeouts of one call to another instance. */
export interface CallTimeouts {
  /** To open the connection: past it the instance counts as unreachable (NODE_UNAVAILABLE). */
  connectMs: number;
  /** For the whole answer (a create with wait=true takes its wait); null: none (a stream). */
  totalMs: number | null;
}

/**
 * Opens a request to another instance. Resolves with its response once the headers arrive;
 * rejects with 503 NODE_UNAVAILABLE, naming the instance, when it cannot be reached within the
 * connect timeout (refused, unroutable, silent). Past the total timeout the request is destroyed.
 * The caller writes the body (`send`) and reads the response.
 */
export function openInstanceCall(
  target: { url: string; name: string },
  method: string,
  path: string,
  headers: OutgoingHttpHeaders,
  timeouts: CallTimeouts,
  send: (body: ClientRequest) => void,
): Promise<IncomingMessage> {
  const url = new URL(path, target.url);
  const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
    method,
    headers,
  });
  return new Promise<IncomingMessage>((resolve, reject) => {
    let connected = false;
    const unavailable = (why: string) =>
      new CodedError(
        'NODE_UNAVAILABLE',
        `the cluster node that holds this sandbox (${target.name}) does not answer: ${why}`,
        { node: target.name },
      );
    const connectTimer = setTimeout(() => {
      request.destroy(unavailable(`no connection within ${timeouts.connectMs} ms`));
    }, timeouts.connectMs);
    const totalTimer =
      timeouts.totalMs === null
        ? undefined
        : setTimeout(() => {
            request.destroy(unavailable(`no answer within ${timeouts.totalMs} ms`));
          }, timeouts.totalMs);
    const clear = () => {
      clearTimeout(connectTimer);
      clearTimeout(totalTimer);
    };
    request.on('socket', (socket) => {
      const onConnect = () => {
        connected = true;
        clearTimeout(connectTimer);
      };
      if (!socket.connecting) onConnect();
      else socket.once('connect', onConnect);
    });
    request.on('response', (response) => {
      clearTimeout(connectTimer);
      response.once('end', clear);
      response.once('close', clear);
      resolve(response);
    });
    request.on('error', (error) => {
      clear();
      reject(
        error instanceof CodedError
          ? error
          : connected
            ? unavailable(`the connection failed (${error.message})`)
            : unavailable(error.message),
      );
    });
    send(request);
  });
}

/** The whole body of a response, as text (at most `limit` bytes: an instance answers JSON). */
export async function readText(
  response: IncomingMessage,
  limit = 4 * 1024 * 1024,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new Error(`the instance answered more than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
