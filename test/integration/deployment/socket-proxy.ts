import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A request the relay held back (see stall()), and whether its client gave up on it. */
export interface StalledRequest {
  method: string;
  path: string;
  /** The client closed the connection while the request was held: it aborted the request. */
  aborted: boolean;
}

/** An HTTP/1.1 request line at the start of a chunk: a new request on the connection. */
const REQUEST_LINE = /^([A-Z]+) (\S+) HTTP\/1\.[01]\r\n/;

/**
 * A Unix-socket relay in front of the Docker engine. Restarting the real engine in a test would
 * disturb every other suite, so the relay plays the engine going away instead: drop() cuts every
 * open connection (as a daemon restart does) and pause()/resume() refuse new ones meanwhile.
 * stall() plays an engine that takes a call and never answers it.
 */
export class SocketProxy {
  readonly path = join(tmpdir(), `sandboxd-proxy-${randomBytes(4).toString('hex')}.sock`);
  /** Every request held back so far, in order. */
  readonly stalled: StalledRequest[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly stalls: { method: string; path: RegExp }[] = [];
  private server: Server | null = null;

  constructor(private readonly upstreamPath: string) {}

  async resume(): Promise<void> {
    if (this.server) return;
    rmSync(this.path, { force: true });
    const server = createServer((client) => this.relay(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, resolve);
    });
    this.server = server;
  }

  /**
   * From now on, a request with this method whose path (with its query) matches is never
   * forwarded nor answered: its connection is held until the client closes it, which is recorded
   * in `stalled` (aborted). Requests are recognised by their request line at the start of a chunk,
   * which is how Node's HTTP client writes them.
   */
  stall(method: string, path: RegExp): void {
    this.stalls.push({ method, path });
  }

  /** Forwards everything again; connections already held stay held until their client closes. */
  unstall(): void {
    this.stalls.length = 0;
  }

  /** Cuts every relayed connection; the relay keeps accepting new ones. */
  drop(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  /** Stops accepting (connects fail as with a stopped engine) and cuts what is open. */
  async pause(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.drop();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.path, { force: true });
  }

  private relay(client: Socket): void {
    const upstream = createConnection(this.upstreamPath);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      // A cut connection errors on both ends; that is the point, not a failure.
      socket.on('error', () => undefined);
    }
    let held: StalledRequest | null = null;
    client.on('data', (chunk: Buffer) => {
      if (held) return;
      held = this.stallFor(chunk);
      if (!held) upstream.write(chunk);
    });
    // The client's own end of the connection (a FIN, or a reset) is its abort; our drop() is not.
    const gaveUp = (): void => {
      if (held) held.aborted = true;
    };
    client.on('end', () => {
      gaveUp();
      upstream.end();
    });
    client.on('error', gaveUp);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => {
      // A held connection stays open on the client's side: that is the stall.
      if (!held) client.destroy();
    });
    upstream.pipe(client);
  }

  private stallFor(chunk: Buffer): StalledRequest | null {
    const line = REQUEST_LINE.exec(chunk.subarray(0, 2048).toString('latin1'));
    if (!line) return null;
    const [, method, path] = line;
    if (!this.stalls.some((rule) => rule.method === method && rule.path.test(path))) return null;
    const request = { method, path, aborted: false };
    this.stalled.push(request);
    return request;
  }
}
