import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A Unix-socket relay in front of the Docker engine. Restarting the real engine in a test would
 * disturb every other suite, so the relay plays the engine going away instead: drop() cuts every
 * open connection (as a daemon restart does) and pause()/resume() refuse new ones meanwhile.
 */
export class SocketProxy {
  readonly path = join(tmpdir(), `sandboxd-proxy-${randomBytes(4).toString('hex')}.sock`);
  private readonly sockets = new Set<Socket>();
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
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
