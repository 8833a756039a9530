import { randomBytes } from 'node:crypto';
import { connect, Socket } from 'node:net';
import { Backend, testEnv } from '../../support/app';
import { DEMO_IMAGE, ensureDemoImage } from '../../support/docker';
import { ServerProcess } from '../../support/server-process';

/**
 * Clients that hang up at the worst moment, against the BUILT server in a child process (a crash
 * must be observable: in-process it would take the test runner down with it). Each streaming route
 * (file upload, file download, exec streamed as SSE and NDJSON, buffered exec) is cut after the
 * request headers, mid-body (Content-Length and chunked framing) and mid-response; after each the
 * process must still be alive and serve a normal request, and nothing may be logged as a 500.
 */

/** A request written by hand on a raw socket, so it can be cut anywhere. */
class RawRequest {
  private received = Buffer.alloc(0);
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => (this.received = Buffer.concat([this.received, chunk])));
    socket.on('close', () => (this.closed = true));
    // A reset from the server side is one of the outcomes under test, not a test failure.
    socket.on('error', () => undefined);
  }

  static async open(url: string): Promise<RawRequest> {
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawRequest(socket);
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve) => this.socket.write(data, () => resolve()));
  }

  /** Waits until at least `bytes` of the answer arrived (or the server closed). */
  async receive(bytes: number): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (this.received.length < bytes && !this.closed && Date.now() < deadline) {
      await sleep(10);
    }
  }

  /** Closes abruptly (RST when data is still unread), as a killed client would. */
  cut(): void {
    this.socket.resetAndDestroy();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function head(method: string, path: string, headers: Record<string, string | number>): string {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  return [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...lines, '', ''].join('\r\n');
}

function chunk(data: string | Buffer): Buffer {
  const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data);
  return Buffer.concat([
    Buffer.from(`${bytes.length.toString(16)}\r\n`),
    bytes,
    Buffer.from('\r\n'),
  ]);
}

type Cut =
  | { at: 'headers' }
  | { at: 'body'; sent: Buffer }
  | { at: 'response'; body: Buffer; afterBytes: number };

interface AbortCase {
  name: string;
  method: string;
  path: (id: string) => string;
  headers: Record<string, string | number>;
  cut: Cut;
}

const EXEC_BODY = JSON.stringify({ command: 'sleep 5; echo late' });
/** Several MB of output, so the answer is still being written when the client cuts it. */
const LOUD_EXEC = JSON.stringify({ command: 'head -c 8000000 /dev/zero | tr "\\0" a' });
const JSON_HEADERS = { 'Content-Type': 'application/json' };

function execCases(label: string, accept: Record<string, string>): AbortCase[] {
  const path = (id: string): string => `/v1/sandboxes/${id}/exec`;
  const partial = Buffer.from(EXEC_BODY.slice(0, 10));
  return [
    {
      name: `${label}: after the headers (Content-Length)`,
      method: 'POST',
      path,
      headers: { ...JSON_HEADERS, ...accept, 'Content-Length': EXEC_BODY.length },
      cut: { at: 'headers' },
    },
    {
      name: `${label}: mid-body (Content-Length)`,
      method: 'POST',
      path,
      headers: { ...JSON_HEADERS, ...accept, 'Content-Length': EXEC_BODY.length },
      cut: { at: 'body', sent: partial },
    },
    {
      name: `${label}: mid-body (chunked)`,
      method: 'POST',
      path,
      headers: { ...JSON_HEADERS, ...accept, 'Transfer-Encoding': 'chunked' },
      cut: { at: 'body', sent: chunk(partial) },
    },
    {
      name: `${label}: while the command runs (whole request sent)`,
      method: 'POST',
      path,
      headers: { ...JSON_HEADERS, ...accept, 'Content-Length': EXEC_BODY.length },
      cut: { at: 'body', sent: Buffer.from(EXEC_BODY) },
    },
    {
      name: `${label}: mid-response (Content-Length)`,
      method: 'POST',
      path,
      headers: { ...JSON_HEADERS, ...accept, 'Content-Length': LOUD_EXEC.length },
      cut: { at: 'response', body: Buffer.from(LOUD_EXEC), afterBytes: 1 },
    },
    {
      name: `${label}: mid-response (chunked)`,
      method: 'POST',
      path,
      headers: { ...JSON_HEADERS, ...accept, 'Transfer-Encoding': 'chunked' },
      cut: {
        at: 'response',
        body: Buffer.concat([chunk(LOUD_EXEC), Buffer.from('0\r\n\r\n')]),
        afterBytes: 1,
      },
    },
  ];
}

const UPLOAD = (id: string): string => `/v1/sandboxes/${id}/files?path=/tmp/upload.bin`;
const BIG_FILE = '/tmp/big.bin';
const BIG_FILE_BYTES = 8 * 1024 * 1024;

const CASES: AbortCase[] = [
  {
    name: 'upload: after the headers (Content-Length)',
    method: 'PUT',
    path: UPLOAD,
    headers: { 'Content-Length': 1_000_000 },
    cut: { at: 'headers' },
  },
  {
    // The probe's crash: 1,000 of 1,000,000 announced bytes, then the socket closes.
    name: 'upload: mid-body (Content-Length)',
    method: 'PUT',
    path: UPLOAD,
    headers: { 'Content-Length': 1_000_000 },
    cut: { at: 'body', sent: randomBytes(1000) },
  },
  {
    name: 'upload: after the headers (chunked)',
    method: 'PUT',
    path: UPLOAD,
    headers: { 'Transfer-Encoding': 'chunked' },
    cut: { at: 'headers' },
  },
  {
    name: 'upload: mid-body, between chunks (chunked)',
    method: 'PUT',
    path: UPLOAD,
    headers: { 'Transfer-Encoding': 'chunked' },
    cut: { at: 'body', sent: Buffer.concat([chunk(randomBytes(1000)), chunk(randomBytes(1000))]) },
  },
  {
    name: 'upload: mid-body, inside a chunk (chunked)',
    method: 'PUT',
    path: UPLOAD,
    headers: { 'Transfer-Encoding': 'chunked' },
    cut: { at: 'body', sent: Buffer.concat([Buffer.from('4000\r\n'), randomBytes(100)]) },
  },
  {
    name: 'download: right after the request',
    method: 'GET',
    path: (id) => `/v1/sandboxes/${id}/files?path=${BIG_FILE}`,
    headers: {},
    cut: { at: 'body', sent: Buffer.alloc(0) },
  },
  {
    name: 'download: mid-response',
    method: 'GET',
    path: (id) => `/v1/sandboxes/${id}/files?path=${BIG_FILE}`,
    headers: {},
    cut: { at: 'response', body: Buffer.alloc(0), afterBytes: 64 * 1024 },
  },
  {
    name: 'directory listing: right after the request',
    method: 'GET',
    path: (id) => `/v1/sandboxes/${id}/files?path=/`,
    headers: {},
    cut: { at: 'body', sent: Buffer.alloc(0) },
  },
  ...execCases('exec as text/event-stream', { Accept: 'text/event-stream' }),
  ...execCases('exec as application/x-ndjson', { Accept: 'application/x-ndjson' }),
  ...execCases('buffered exec', {}),
];

async function call(server: ServerProcess, method: string, path: string, body?: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text };
}

const BACKENDS: Backend[] = ['postgres+redis', 'embedded'];

describe.each(BACKENDS)('clients that hang up mid-request (built server, %s)', (backend) => {
  let suite: Awaited<ReturnType<typeof testEnv>>;
  let server: ServerProcess;
  let id: string;

  beforeAll(async () => {
    await ensureDemoImage();
    suite = await testEnv(backend);
    server = await ServerProcess.start(suite.env);
    const created = await call(server, 'POST', '/v1/sandboxes?wait=true', { image: DEMO_IMAGE });
    expect(created.status).toBe(200);
    id = (JSON.parse(created.text) as { id: string }).id;
    const made = await call(server, 'POST', `/v1/sandboxes/${id}/exec`, {
      command: `head -c ${BIG_FILE_BYTES} /dev/urandom > ${BIG_FILE}`,
    });
    expect(made.status).toBe(200);
  });

  const lastWords = (): string => server.logs().split('\n').slice(-25).join('\n');

  afterAll(async () => {
    await server?.kill('SIGTERM');
    await suite?.cleanup();
  });

  it.each(CASES)('$name: the process lives on and serves', async (c) => {
    const raw = await RawRequest.open(server.url);
    await raw.write(head(c.method, c.path(id), c.headers));
    if (c.cut.at === 'body') await raw.write(c.cut.sent);
    if (c.cut.at === 'response') {
      await raw.write(c.cut.body);
      await raw.receive(c.cut.afterBytes);
    }
    raw.cut();
    // Time for the server to notice the hang-up and tear the request down (or to crash).
    await sleep(500);

    const live = await call(server, 'GET', '/health/live').catch((error: unknown) => {
      throw new Error(`the server is gone (${String(error)}); its last words:\n${lastWords()}`);
    });
    expect(live.status).toBe(200);
    const echo = await call(server, 'POST', `/v1/sandboxes/${id}/exec`, { command: 'echo ok' });
    expect(echo).toMatchObject({ status: 200 });
    expect(JSON.parse(echo.text)).toMatchObject({ exitCode: 0, stdout: 'ok\n' });
  });

  it('still writes and reads files whole after all that, and logged no 500 or crash', async () => {
    const data = randomBytes(300_000);
    const put = await fetch(`${server.url}${UPLOAD(id)}`, { method: 'PUT', body: data });
    expect(put.status).toBe(200);
    const got = await fetch(`${server.url}${UPLOAD(id)}`);
    expect(Buffer.from(await got.arrayBuffer()).equals(data)).toBe(true);
    expect(server.logs()).not.toMatch(/INTERNAL_ERROR|uncaught exception|unhandled rejection/);
  });
});
