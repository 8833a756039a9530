import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Injectable, Logger } from '@nestjs/common';
import { ConnectRouter } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { ExecConfig, FilesConfig } from '@app/config';
import { forwardRequest } from '@app/cluster';
import type { ForwardTarget } from '@app/cluster';
import { describeError } from '@app/domain';
import {
  SandboxAccessTokens,
  SandboxRouting,
  SandboxService,
  SandboxWorkService,
} from '@app/sandbox';
import { E2bControlPlane } from './control-plane';
import { E2bCaller } from './e2b-caller';
import { E2bApiError, apiErrorOf } from './e2b-errors';
import { EnvdAuth } from './envd-auth';
import { EnvdFiles } from './envd-files';
import { EnvdFilesystem } from './envd-filesystem';
import { EnvdProcess } from './envd-process';
import { Filesystem } from './gen/filesystem/filesystem_pb';
import { Process } from './gen/process/process_pb';

const MAX_JSON_BYTES = 1024 * 1024;
const SANDBOX_ROUTE = /^\/sandboxes\/([^/]+)(?:\/(timeout|refreshes|pause|connect|resume))?$/;
const V2_CONNECT = /^\/v2\/sandboxes\/([^/]+)\/connect$/;

type Reply = (status: number, body?: unknown, headers?: Record<string, string>) => void;

/**
 * The E2B-compatible listener: E2B's control plane and the envd data plane of every sandbox on one
 * port. The SDK is pointed here by E2B_API_URL and E2B_SANDBOX_URL; envd calls name their sandbox
 * in the E2b-Sandbox-Id header. Plain node:http (no Nest pipeline): E2B's paths, bodies and error
 * shape are not sandboxd's, and Connect streams must not pass through a body parser.
 */
@Injectable()
export class E2bServer {
  private readonly logger = new Logger('E2B');
  private server: Server | null = null;
  private readonly connect: ReturnType<typeof connectNodeAdapter>;
  private readonly files: EnvdFiles;

  constructor(
    exec: ExecConfig,
    files: FilesConfig,
    private readonly control: E2bControlPlane,
    work: SandboxWorkService,
    private readonly caller: E2bCaller,
    sandboxes: SandboxService,
    tokens: SandboxAccessTokens,
    private readonly routing: SandboxRouting,
  ) {
    const auth = new EnvdAuth(tokens, sandboxes);
    const process = new EnvdProcess(exec, work);
    const filesystem = new EnvdFilesystem(work);
    this.files = new EnvdFiles(files, work, auth);
    this.connect = connectNodeAdapter({
      routes: (router: ConnectRouter) => {
        router.service(Process, process.service());
        router.service(Filesystem, filesystem.service());
      },
      // Every call shows its sandbox's access token before its handler runs.
      interceptors: [auth.interceptor()],
      // The SDK asks for at most this; more is a malformed or hostile frame.
      readMaxBytes: 8 * 1024 * 1024,
    });
  }

  /** Starts listening; resolves to the bound port (0 picks one). */
  async listen(port: number, host: string): Promise<number> {
    const server = createServer((req, res) => void this.handle(req, res));
    // Commands stream for as long as they run: no request timeout of the server's own.
    server.requestTimeout = 0;
    server.headersTimeout = 60_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  get port(): number | null {
    const address = this.server?.address();
    return address && typeof address === 'object' ? address.port : null;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://e2b.local');
    const path = url.pathname;
    const reply: Reply = (status, body, headers = {}) => {
      if (res.headersSent) return;
      if (body === undefined) {
        res.writeHead(status, headers).end();
        return;
      }
      const text = JSON.stringify(body);
      res
        .writeHead(status, {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(text)),
          ...headers,
        })
        .end(text);
    };
    try {
      const owner = await this.ownerOf(req, path);
      if (owner !== null) {
        const headers = this.routing.headersFor(null);
        return await forwardRequest(req, res, owner, headers, this.routing.connectTimeoutMs);
      }
      if (path.startsWith('/process.Process/') || path.startsWith('/filesystem.Filesystem/')) {
        this.connect(req, res);
        return;
      }
      if (path === '/health') return reply(req.method === 'GET' ? 204 : 405);
      if (path === '/files') {
        if (req.method === 'GET') return await this.files.download(req, res, url, reply);
        if (req.method === 'POST') return await this.files.upload(req, url, reply);
        return reply(405, { code: 405, message: 'GET or POST' });
      }
      await this.controlPlane(req, url, reply);
    } catch (error) {
      const failure = apiErrorOf(error);
      if (failure.status >= 500) {
        this.logger.error(`${req.method} ${path}: ${describeError(error)}`);
      }
      reply(failure.status, failure.body, failure.headers);
    }
  }

  /**
   * Cluster mode: the instance that owns the sandbox a call names, when it is not this one. The
   * data plane names it in E2b-Sandbox-Id, the control plane in its path; the owner checks the
   * caller's key or the sandbox's access token itself. A call already forwarded is answered here.
   */
  private async ownerOf(req: IncomingMessage, path: string): Promise<ForwardTarget | null> {
    if (!this.routing.enabled || this.routing.isForwarded(req.headers)) return null;
    const dataPlane =
      path === '/files' ||
      path.startsWith('/process.Process/') ||
      path.startsWith('/filesystem.Filesystem/');
    const header = req.headers['e2b-sandbox-id'];
    const named = dataPlane
      ? typeof header === 'string'
        ? header
        : undefined
      : (V2_CONNECT.exec(path) ?? SANDBOX_ROUTE.exec(path.replace(/\/+$/, '')))?.[1];
    if (named === undefined) return null;
    return this.routing.ownerOfId(safeDecode(named), 'e2b');
  }

  private async controlPlane(req: IncomingMessage, url: URL, reply: Reply): Promise<void> {
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    const query = Object.fromEntries(url.searchParams);
    // Who is calling, before anything is read or looked up (a refusal answers 401 at once).
    const actor = await this.caller.actorOf(req);
    if (path === '/sandboxes' || path === '/v2/sandboxes') {
      if (method === 'POST') {
        return reply(201, await this.control.create(actor, await readJson(req)));
      }
      if (method === 'GET') {
        const page = await this.control.list(actor, query);
        return reply(200, page.items, page.nextToken ? { 'x-next-token': page.nextToken } : {});
      }
    }
    const v2 = V2_CONNECT.exec(path);
    if (v2 && method === 'POST') {
      const { created, answer } = await this.control.connect(
        actor,
        decodeURIComponent(v2[1]),
        await readJson(req),
      );
      return reply(created ? 201 : 200, answer);
    }
    const match = SANDBOX_ROUTE.exec(path);
    if (match) {
      const id = decodeURIComponent(match[1]);
      switch (`${method} ${match[2] ?? ''}`) {
        case 'GET ':
          return reply(200, await this.control.get(actor, id));
        case 'DELETE ':
          await this.control.kill(actor, id);
          return reply(204);
        case 'POST timeout':
          await this.control.setTimeout(actor, id, await readJson(req));
          return reply(204);
        case 'POST refreshes':
          await this.control.get(actor, id);
          return reply(204);
        case 'POST pause':
          await this.control.pause(actor, id);
          return reply(204);
        case 'POST connect':
        case 'POST resume': {
          const { created, answer } = await this.control.connect(actor, id, await readJson(req));
          return reply(created ? 201 : 200, answer);
        }
        default:
          break;
      }
    }
    throw new E2bApiError(404, `${method} ${path} is not served by sandboxd's E2B API`);
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_JSON_BYTES) throw new E2bApiError(413, 'the request body is too large');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new E2bApiError(400, 'the request body is not valid JSON');
  }
}

/** A path segment decoded; a malformed escape is kept as it is (it names no sandbox then). */
function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
