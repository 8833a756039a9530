import { SandboxdError } from './errors';
import type { Transport } from './http';

/** Lifecycle event types, as GET /v1/events and webhooks name them. */
export type SandboxEventType =
  | 'sandbox.created'
  | 'sandbox.running'
  | 'sandbox.stopped'
  | 'sandbox.restarted'
  | 'sandbox.deleted'
  | 'sandbox.failed'
  | 'sandbox.protection_changed';

/** One event of the log. `sandbox` is the sandbox as the change left it (no state history). */
export interface SandboxEvent {
  id: string;
  type: SandboxEventType;
  at: string;
  sandboxId: string;
  actor: { kind: string; tenant: string | null; keyId: string | null };
  tenant: string | null;
  reason: 'manual' | 'idle' | 'lifetime' | 'exited' | 'oom' | 'node-lost' | null;
  detail: string | null;
  sandbox: Record<string, unknown> & { id: string; state: string };
}

export interface EventQuery {
  /** Events after this id. */
  after?: string;
  type?: readonly SandboxEventType[];
  sandbox?: string;
  limit?: number;
}

export interface EventPage {
  items: SandboxEvent[];
  /** Pass back as `after` for the next page. */
  next: string;
}

function queryOf(query: EventQuery): Record<string, string | number | undefined> {
  return {
    after: query.after,
    type: query.type?.join(','),
    sandbox: query.sandbox,
    limit: query.limit,
  };
}

export function eventPage(transport: Transport, query: EventQuery = {}): Promise<EventPage> {
  return transport.json<EventPage>({ method: 'GET', path: '/v1/events', query: queryOf(query) });
}

/** Pause before reconnecting a stream the network or the service dropped. */
const RECONNECT_MS = 1000;

/**
 * The live events (Server-Sent Events), from `after` on (absent: from now), until `signal`
 * aborts. A dropped stream is reopened with Last-Event-ID, so nothing is missed or repeated; an
 * error answer (a bad query, a refused key) ends it with that error.
 */
export async function* followEvents(
  transport: Transport,
  query: EventQuery & { signal?: AbortSignal } = {},
): AsyncGenerator<SandboxEvent, void, undefined> {
  let last = query.after;
  while (!query.signal?.aborted) {
    try {
      const body = await transport.request(
        {
          method: 'GET',
          path: '/v1/events',
          query: { ...queryOf(query), after: undefined },
          accept: 'text/event-stream',
          headers: last === undefined ? {} : { 'Last-Event-ID': last },
          timeoutMs: null,
          signal: query.signal,
        },
        (response) => Promise.resolve(response.body),
      );
      if (body === null) return;
      for await (const event of parseSse(body as AsyncIterable<Uint8Array>)) {
        last = event.id;
        yield event;
      }
    } catch (error) {
      if (query.signal?.aborted) return;
      // The service refused the request (a bad query, a refused key): asking again would not help.
      // A network failure or a 5xx (a restarting service, a proxy) is reconnected.
      if (error instanceof SandboxdError && error.status >= 400 && error.status < 500) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
  }
}

/** The `data` of each SSE message (comments and `retry` lines skipped), parsed as an event. */
export async function* parseSse(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<SandboxEvent> {
  const decoder = new TextDecoder('utf-8');
  let pending = '';
  for await (const chunk of chunks) {
    pending += decoder.decode(chunk, { stream: true }).replace(/\r\n/g, '\n');
    let end = pending.indexOf('\n\n');
    while (end >= 0) {
      const block = pending.slice(0, end);
      pending = pending.slice(end + 2);
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''))
        .join('\n');
      if (data !== '') yield JSON.parse(data) as SandboxEvent;
      end = pending.indexOf('\n\n');
    }
  }
}
