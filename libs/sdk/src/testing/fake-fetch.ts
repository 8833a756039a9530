import type { FetchLike } from '../http';
import type { SandboxView } from '../types';

/** One request as the fake saw it. */
export interface RecordedCall {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: Uint8Array | null;
  signal: AbortSignal | null;
}

export type Responder = (call: RecordedCall) => Response | Promise<Response>;

/**
 * A fetch that answers from `responder` and records every call, so tests can check URLs, headers
 * and bodies without a server.
 */
export function fakeFetch(responder: Responder): { fetch: FetchLike; calls: RecordedCall[] } {
  const calls: RecordedCall[] = [];
  const fetch: FetchLike = async (url, init) => {
    const call: RecordedCall = {
      url: new URL(url),
      method: init.method ?? 'GET',
      headers: { ...(init.headers as Record<string, string>) },
      body: bodyBytes(init.body),
      signal: init.signal ?? null,
    };
    calls.push(call);
    return responder(call);
  };
  return { fetch, calls };
}

function bodyBytes(body: RequestInit['body']): Uint8Array | null {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string') return new TextEncoder().encode(body);
  if (body instanceof Uint8Array) return body;
  throw new Error('fakeFetch: unsupported body type');
}

export function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json; charset=utf-8' },
  });
}

/**
 * A streamed answer whose body arrives in exactly these chunks; `hold` keeps it open after them
 * (a command still running) until the request is aborted.
 */
export function chunkedResponse(
  chunks: (string | Uint8Array)[],
  options: { hold?: boolean; signal?: AbortSignal | null; contentType?: string } = {},
): Response {
  const encoder = new TextEncoder();
  let index = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (index < chunks.length) {
        const chunk = chunks[index++];
        controller.enqueue(typeof chunk === 'string' ? encoder.encode(chunk) : chunk);
        return;
      }
      if (!options.hold) {
        controller.close();
        return;
      }
      return new Promise<void>((resolve) => {
        options.signal?.addEventListener('abort', () => {
          controller.error(new DOMException('aborted', 'AbortError'));
          resolve();
        });
      });
    },
  });
  return new Response(stream, {
    status: 200,
    headers: { 'Content-Type': options.contentType ?? 'application/x-ndjson' },
  });
}

/** A complete SandboxView for tests, with the fields that matter overridable. */
export function sandboxView(overrides: Partial<SandboxView> = {}): SandboxView {
  return {
    id: 'sb0000000000000000000000a',
    name: null,
    tenant: null,
    state: 'running',
    operation: null,
    image: 'sandboxd/demo:latest',
    cpus: null,
    memory: null,
    memoryBytes: null,
    pidsLimit: null,
    runtime: 'runc',
    network: 'bridge',
    disk: null,
    logDirQuota: null,
    fromPool: false,
    envKeys: [],
    labels: {},
    ports: {},
    host: null,
    containerId: 'c0ffee',
    node: null,
    idleTimeoutSeconds: 1800,
    maxLifetimeSeconds: null,
    autoDeleteSeconds: null,
    protected: false,
    autoStopAt: null,
    autoDeleteAt: null,
    lastActivityAt: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    startedAt: null,
    stoppedAt: null,
    deletedAt: null,
    failureReason: null,
    stateHistory: [],
    ...overrides,
  };
}
