/** The fields of the API's sandbox view that the benchmarks read. */
export interface SandboxAnswer {
  id: string;
  state: string;
  operation: string | null;
  containerId: string | null;
  createdAt: string;
  startedAt: string | null;
  stoppedAt: string | null;
  failureReason: string | null;
  ports: Record<string, number>;
}

export interface ApiError {
  statusCode: number;
  code: string;
  message: string;
}

export interface Timed<T> {
  status: number;
  body: T | ApiError | null;
  /** Wall-clock instant the request was sent (epoch ms, fractional). */
  sentAt: number;
  /** Round trip in milliseconds, body read included. */
  ms: number;
}

const REQUEST_TIMEOUT_MS = 180_000;

/** Sends one JSON request to the API under test (127.0.0.1 only) and times it. */
export async function callApi<T>(
  baseUrl: string,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<Timed<T>> {
  if (!baseUrl.startsWith('http://127.0.0.1:')) throw new Error(`not a loopback URL: ${baseUrl}`);
  const sentAt = performance.timeOrigin + performance.now();
  const started = performance.now();
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  const ms = performance.now() - started;
  return {
    status: response.status,
    body: text.length === 0 ? null : (JSON.parse(text) as T | ApiError),
    sentAt,
    ms,
  };
}

/** The answer's body when it has the expected status, else an error naming what came back. */
export function expectStatus<T>(answer: Timed<T>, status: number, what: string): T {
  if (answer.status !== status) {
    throw new Error(
      `${what}: expected HTTP ${status}, got ${answer.status} ${describe(answer.body)}`,
    );
  }
  return answer.body as T;
}

export function errorCodeOf(body: unknown): string | null {
  return typeof body === 'object' &&
    body !== null &&
    'code' in body &&
    typeof body.code === 'string'
    ? body.code
    : null;
}

function describe(body: unknown): string {
  if (body === null) return '(no body)';
  const text = JSON.stringify(body);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** Epoch ms of an ISO instant from an answer (null stays null). */
export function instant(value: string | null): number | null {
  if (value === null) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}
