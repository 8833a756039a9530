import type { IncomingMessage, ServerResponse } from 'node:http';
import { ENVD_ACTOR } from './e2b-caller';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Code, ConnectError } from '@connectrpc/connect';
import { FilesConfig } from '@app/config';
import { CodedError } from '@app/domain';
import { SandboxWorkService } from '@app/sandbox';
import { E2bApiError, envdStatusOf } from './e2b-errors';
import { resolvePath } from './envd-paths';
import { EnvdAuth } from './envd-auth';
import { checkedUser, sandboxIdOf, userOf } from './envd-request';

type Reply = (status: number, body?: unknown) => void;

/**
 * envd's `GET /files` (the raw bytes) and `POST /files` (multipart with the target path as each
 * part's filename, or octet-stream with `?path=`), through Docker's archive API as /v1's files.
 * Missing parent directories are created, as envd does.
 */
export class EnvdFiles {
  constructor(
    private readonly filesConfig: FilesConfig,
    private readonly work: SandboxWorkService,
    private readonly auth: EnvdAuth,
  ) {}

  async download(req: IncomingMessage, res: ServerResponse, url: URL, reply: Reply): Promise<void> {
    try {
      const { sandboxId, user } = await this.caller(req, url, 'read');
      const path = this.path(url.searchParams.get('path'), user);
      const read = await this.work.read(ENVD_ACTOR, sandboxId, path);
      if (read.kind !== 'file') throw new E2bApiError(400, `path ${path} is a directory`);
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(read.info.size),
        'content-disposition': `attachment; filename="${encodeURIComponent(posix.basename(path))}"`,
      });
      await pipeline(read.content, res);
    } catch (error) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      this.fail(error, reply);
    }
  }

  async upload(req: IncomingMessage, url: URL, reply: Reply): Promise<void> {
    try {
      const { sandboxId, user } = await this.caller(req, url, 'write');
      const type = req.headers['content-type'] ?? '';
      const written: { path: string; name: string; type: 'file' }[] = [];
      if (type.startsWith('multipart/form-data')) {
        const form = await new Response(
          Readable.toWeb(this.capped(req)) as ReadableStream<Uint8Array>,
          { headers: { 'content-type': type } },
        ).formData();
        const files = form
          .getAll('file')
          .filter((part) => typeof part !== 'string')
          .map((part) => part as Blob & { name: string });
        if (files.length === 0) throw new E2bApiError(400, 'no file part in the upload');
        const only = url.searchParams.get('path');
        for (const file of files) {
          const target = this.path(files.length === 1 && only ? only : file.name, user);
          await this.write(sandboxId, target, Buffer.from(await file.arrayBuffer()), user);
          written.push({ path: target, name: posix.basename(target), type: 'file' });
        }
      } else {
        const target = this.path(url.searchParams.get('path'), user);
        const chunks: Buffer[] = [];
        for await (const chunk of this.capped(req)) chunks.push(chunk as Buffer);
        await this.write(sandboxId, target, Buffer.concat(chunks), user);
        written.push({ path: target, name: posix.basename(target), type: 'file' });
      }
      reply(200, written);
    } catch (error) {
      this.fail(error, reply);
    }
  }

  /**
   * The sandbox and user of a /files call: the same headers, and checks, as the Connect calls,
   * and its access token (X-Access-Token, or the signature of a signed URL).
   */
  private async caller(
    req: IncomingMessage,
    url: URL,
    operation: 'read' | 'write',
  ): Promise<{ sandboxId: string; user?: string }> {
    const get = (name: string): string | undefined => {
      const value = req.headers[name];
      return typeof value === 'string' ? value : undefined;
    };
    const query = url.searchParams;
    try {
      const sandboxId = sandboxIdOf(get);
      await this.auth.checkFiles(sandboxId, get('x-access-token') ?? null, {
        path: query.get('path') ?? '',
        operation,
        user: query.get('username') ?? '',
        signature: query.get('signature'),
        expiration: query.get('signature_expiration'),
      });
      const named = query.get('username');
      return { sandboxId, user: named ? checkedUser(named) : userOf(get) };
    } catch (error) {
      // REST answers of the Connect refusals: a bad request, a token that does not open the
      // sandbox, or a sandbox that is not there.
      if (!(error instanceof ConnectError)) throw error;
      throw new E2bApiError(restStatusOf(error.code), error.rawMessage);
    }
  }

  private path(raw: string | null, user: string | undefined): string {
    if (!raw) throw new E2bApiError(400, 'path is required');
    try {
      return resolvePath(raw, user);
    } catch (error) {
      throw new E2bApiError(400, error instanceof ConnectError ? error.rawMessage : 'bad path');
    }
  }

  /** The request body, failing past FILE_SIZE_LIMIT (the limit of /v1's writes). */
  private capped(req: IncomingMessage): Readable {
    const limit = this.filesConfig.sizeLimitBytes;
    let seen = 0;
    const capped = new Readable({ read() {} });
    req.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > limit + 64 * 1024) {
        capped.destroy(
          new E2bApiError(413, `the upload is larger than FILE_SIZE_LIMIT (${limit} bytes)`),
        );
        req.destroy();
        return;
      }
      capped.push(chunk);
    });
    req.on('end', () => capped.push(null));
    req.on('error', (error) => capped.destroy(error));
    return capped;
  }

  private async write(sandboxId: string, path: string, data: Buffer, user?: string): Promise<void> {
    const parent = posix.dirname(path);
    if (parent !== '/') {
      const made = await this.work.exec(ENVD_ACTOR, sandboxId, {
        command: ['mkdir', '-p', '--', parent],
        user,
        timeoutSeconds: 30,
      });
      try {
        if (made.exitCode !== 0) {
          throw new E2bApiError(
            400,
            `could not create ${parent}: ${made.stderr.toString('utf8').trim()}`,
          );
        }
      } finally {
        made.release();
      }
    }
    await this.work.writeFile(ENVD_ACTOR, sandboxId, path, data);
  }

  private fail(error: unknown, reply: Reply): void {
    if (error instanceof CodedError && error.code === 'FILE_NOT_FOUND') {
      reply(404, { code: 404, message: error.message });
      return;
    }
    const { status, message } = envdStatusOf(error);
    reply(status, { code: status, message });
  }
}

/** The status of a Connect refusal on envd's REST routes, as the SDK's envd client types them. */
function restStatusOf(code: Code): number {
  if (code === Code.InvalidArgument) return 400;
  if (code === Code.Unauthenticated) return 401;
  if (code === Code.Internal) return 500;
  return 502;
}
