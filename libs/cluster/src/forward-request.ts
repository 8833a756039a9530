import type {
  IncomingHttpHeaders,
  IncomingMessage,
  OutgoingHttpHeaders,
  ServerResponse,
} from 'node:http';
import { CLUSTER_HEADERS } from './cluster-headers';
import { openInstanceCall } from './instance-call';

/** Headers of one connection, not of the request: never passed on (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

const OWN_HEADERS = new Set<string>(Object.values(CLUSTER_HEADERS));

export interface ForwardTarget {
  url: string;
  /** The node's name, for NODE_UNAVAILABLE. */
  name: string;
}

/**
 * Passes a request on to the instance that owns its sandbox and streams the answer back as that
 * instance gave it: status, headers and body, chunk by chunk (exec output, downloads, Connect
 * streams), so the caller cannot tell which instance answered. `headers` are added (the cluster
 * secret and the caller's identity); whatever a client sent under the cluster's own header names
 * is dropped first. `body`: the bytes already read from the request (a body parsed to find the
 * sandbox); otherwise the request itself is streamed.
 *
 * Rejects with NODE_UNAVAILABLE when the owner cannot be reached, before anything was answered,
 * so the edge replies in its own protocol's shape. Once the answer has started, a failure can
 * only cut the connection. A client that goes away cancels the call to the owner.
 */
export async function forwardRequest(
  request: IncomingMessage,
  response: ServerResponse,
  target: ForwardTarget,
  headers: OutgoingHttpHeaders,
  connectTimeoutMs: number,
  body?: Buffer,
): Promise<void> {
  const outgoing: OutgoingHttpHeaders = { ...passedOn(request.headers), ...headers };
  if (body !== undefined) outgoing['content-length'] = body.length;
  const upstream = await openInstanceCall(
    target,
    request.method ?? 'GET',
    request.url ?? '/',
    outgoing,
    // A stream (exec, a Connect call) may run as long as it runs: only the connect is bounded.
    { connectMs: connectTimeoutMs, totalMs: null },
    (sink) => {
      if (body !== undefined) sink.end(body);
      else request.pipe(sink);
    },
  );
  const reply: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream.headers)) {
    if (!HOP_BY_HOP.has(name) && value !== undefined) reply[name] = value;
  }
  response.writeHead(upstream.statusCode ?? 502, upstream.statusMessage, reply);
  response.flushHeaders();
  await new Promise<void>((resolve) => {
    const done = () => resolve();
    // The client hung up: the owner's side of the call ends with it.
    response.once('close', () => {
      if (!response.writableFinished) upstream.destroy();
      done();
    });
    upstream.once('error', () => response.destroy());
    upstream.once('aborted', () => response.destroy());
    upstream.pipe(response);
  });
}

function passedOn(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || OWN_HEADERS.has(name)) continue;
    out[name] = value;
  }
  return out;
}
