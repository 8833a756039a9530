import { SandboxdError, errorFromResponse } from './errors';

/** The part of fetch the SDK uses; the global fetch fits, and so does a fake in tests. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface TransportOptions {
  /** Where the service listens, e.g. http://127.0.0.1:8080 (a path prefix is kept). */
  baseUrl: string;
  /**
   * The service's API key (a tenant's `sbxd_…` key, or the admin key), sent as
   * `Authorization: Bearer <apiKey>`. Needed whenever the service has ADMIN_API_KEY set.
   */
  apiKey?: string;
  fetch?: FetchLike;
  /** Default time limit of one request, answer body included. */
  timeoutMs?: number;
}

type QueryScalar = string | number | boolean;
export type Query = Record<string, QueryScalar | readonly QueryScalar[] | null | undefined>;

export interface RequestSpec {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path below the base URL, already percent-encoded where it carries ids. */
  path: string;
  query?: Query;
  json?: unknown;
  raw?: Uint8Array;
  accept?: string;
  headers?: Record<string, string>;
  /** Overrides the client's time limit; null for none (long commands, streams). */
  timeoutMs?: number | null;
  /** Added to the time limit, for requests whose expected duration is known to be long. */
  extraTimeoutMs?: number;
  signal?: AbortSignal;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

/** Builds URLs, sends requests and turns every failure into a SandboxdError. */
export class Transport {
  private readonly baseUrl: string;
  private readonly fetchFn: FetchLike;
  private readonly timeoutMs: number;

  constructor(private readonly options: TransportOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    // Bound here: an unbound global fetch throws "Illegal invocation" in some runtimes.
    this.fetchFn = options.fetch ?? ((url, init) => fetch(url, init));
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  url(path: string, query?: Query): string {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value === undefined || value === null) continue;
      // Repeatable parameters (state, label) are sent once per value, as the API reads them.
      for (const item of Array.isArray(value) ? value : [value]) search.append(key, String(item));
    }
    const qs = search.toString();
    return `${this.baseUrl}${path}${qs ? `?${qs}` : ''}`;
  }

  /**
   * Sends a request and hands a 2xx answer to `read`, within the same time limit; a non-2xx answer
   * becomes the service's error. Whatever `read` returns is only valid while it runs, unless the
   * request has no time limit (then a body may be consumed later).
   */
  async request<T>(spec: RequestSpec, read: (response: Response) => Promise<T>): Promise<T> {
    const base = spec.timeoutMs === undefined ? this.timeoutMs : spec.timeoutMs;
    const limit = base === null ? null : base + (spec.extraTimeoutMs ?? 0);
    const controller = new AbortController();
    let why: 'timeout' | 'aborted' | null = null;
    const onAbort = (): void => {
      why ??= 'aborted';
      controller.abort();
    };
    if (spec.signal?.aborted) onAbort();
    spec.signal?.addEventListener('abort', onAbort, { once: true });
    const timer =
      limit === null
        ? undefined
        : setTimeout(() => {
            why ??= 'timeout';
            controller.abort();
          }, limit);
    try {
      const response = await this.fetchFn(this.url(spec.path, spec.query), {
        method: spec.method,
        headers: this.headers(spec),
        body: spec.raw ?? (spec.json === undefined ? undefined : JSON.stringify(spec.json)),
        signal: controller.signal,
      });
      if (!response.ok) {
        throw errorFromResponse(response.status, response.statusText, await response.text());
      }
      return await read(response);
    } catch (error) {
      throw toSandboxdError(error, why, `${spec.method} ${spec.path}`, limit);
    } finally {
      clearTimeout(timer);
      // Only for bounded requests: an unbounded one may still be streaming after this returns.
      if (limit !== null) spec.signal?.removeEventListener('abort', onAbort);
    }
  }

  async json<T>(spec: RequestSpec): Promise<T> {
    return this.request(spec, async (response) => parseJson<T>(await response.text()));
  }

  async empty(spec: RequestSpec): Promise<void> {
    await this.request(spec, async (response) => {
      await response.arrayBuffer();
    });
  }

  private headers(spec: RequestSpec): Record<string, string> {
    const headers: Record<string, string> = { Accept: spec.accept ?? 'application/json' };
    if (spec.json !== undefined) headers['Content-Type'] = 'application/json';
    if (spec.raw !== undefined) headers['Content-Type'] = 'application/octet-stream';
    if (this.options.apiKey) headers.Authorization = `Bearer ${this.options.apiKey}`;
    return { ...headers, ...spec.headers };
  }
}

export function parseJson<T>(text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw SandboxdError.client('INVALID_RESPONSE', `the service answered invalid JSON`, error);
  }
}

/**
 * Maps what fetch or a body read threw: our own time limit, the caller's abort, or the network.
 * Errors that already are SandboxdErrors (answers from the service) pass through.
 */
export function toSandboxdError(
  error: unknown,
  why: 'timeout' | 'aborted' | null,
  what: string,
  limit?: number | null,
): SandboxdError {
  if (error instanceof SandboxdError) return error;
  if (why === 'timeout') {
    return SandboxdError.client('TIMEOUT', `${what} took longer than ${limit} ms`, error);
  }
  if (why === 'aborted') return SandboxdError.client('ABORTED', `${what} was aborted`, error);
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return SandboxdError.client('NETWORK_ERROR', `${what} failed: ${detail}`, error);
}
