import { createReadStream } from 'node:fs';
import { posix } from 'node:path';
import { Injectable, Logger } from '@nestjs/common';
import { z } from 'zod';
import { ExecConfig, ResourcesConfig } from '@app/config';
import { Actor, SandboxInfo, describeError, isCodedError } from '@app/domain';
import { SandboxService, SandboxWorkService, stateAllows } from '@app/sandbox';
import { BashSessions, Observation } from './bash-sessions';
import { ROCK_CODES, RockEnvelope, rockSuccess } from './rock-envelope';
import { RockError, badRequest, isUnexpected, rockFailureOf } from './rock-errors';
import { nonBlank, parseBody, parseQueryBool, parseQueryId } from './rock-input';
import { HeaderBag, toCreateInput } from './start-request';
import { RockStart, RockStatus, toStart, toStatus, visibleByDefault } from './status-view';

const idOnly = z.object({ sandbox_id: nonBlank });

const executeSchema = z.object({
  sandbox_id: nonBlank,
  command: z.union([nonBlank, z.array(z.string()).min(1)]),
  timeout: z.number().positive().nullish(),
  cwd: z.string().nullish(),
  env: z.record(z.string(), z.string()).nullish(),
  shell: z.boolean().nullish(),
});

const writeSchema = z.object({ sandbox_id: nonBlank, path: nonBlank, content: z.string() });

/** Python codec names ROCK's read_file may be given, as Node decodes them. */
const ENCODINGS: Record<string, BufferEncoding> = {
  'utf-8': 'utf8',
  utf8: 'utf8',
  ascii: 'latin1',
  'latin-1': 'latin1',
  latin1: 'latin1',
  'iso-8859-1': 'latin1',
};
const readSchema = z.object({
  sandbox_id: nonBlank,
  path: nonBlank,
  encoding: z
    .string()
    .refine((name) => name.toLowerCase() in ENCODINGS, {
      message: `must be one of ${Object.keys(ENCODINGS).join(', ')}`,
    })
    .nullish(),
  errors: z.enum(['strict', 'replace', 'ignore']).nullish(),
});

/** ROCK execute's default when the SDK's Command does not say. */
const DEFAULT_EXECUTE_TIMEOUT_SECONDS = 1200;

/** An upload spooled by the HTTP edge to a temporary file. */
export interface SpooledUpload {
  path: string;
  size: number;
  originalname: string;
}

/**
 * ROCK's sandbox routes as thin translations onto SandboxService and SandboxWorkService: the same
 * records, machine and pipeline as /v1. Each method answers ROCK's envelope and never throws.
 * The sandbox_id a client sends may be the id or the name it chose at start (ROCK lets a client
 * pick the id): answers echo it back as sent. Every method takes the caller's Actor and passes it
 * on, so a tenant key reaches only its own tenant's sandboxes (another's reads as not found).
 */
@Injectable()
export class RockSandboxes {
  private readonly logger = new Logger('ROCK');

  constructor(
    private readonly resourcesConfig: ResourcesConfig,
    private readonly execConfig: ExecConfig,
    private readonly sandboxes: SandboxService,
    private readonly work: SandboxWorkService,
    private readonly sessions: BashSessions,
  ) {}

  startAsync(actor: Actor, body: unknown, headers: HeaderBag): Promise<RockEnvelope> {
    return this.answer('async start sandbox', async () => {
      const input = toCreateInput(body, headers, this.resourcesConfig.allowedRuntimes);
      try {
        const { sandbox } = await this.sandboxes.create(actor, input, { wait: false });
        return toStart(sandbox, sandbox.name ?? sandbox.id);
      } catch (error) {
        if (isCodedError(error, 'NAME_CONFLICT')) {
          throw badRequest(`sandbox ${input.name ?? ''} already exists`);
        }
        throw error;
      }
    });
  }

  getStatus(actor: Actor, query: Record<string, unknown>): Promise<RockEnvelope> {
    return this.answer('get sandbox status', async (): Promise<RockStatus> => {
      const id = parseQueryId(query.sandbox_id);
      const all = parseQueryBool(query.include_all_states, 'include_all_states');
      const info = await this.find(actor, id);
      if (!all && !visibleByDefault(info)) {
        throw badRequest(
          `sandbox ${id} not found (it is ${info.state}; ask with include_all_states=True)`,
        );
      }
      // As on ROCK, polling the status of a live sandbox keeps it from going idle.
      if (stateAllows(info, 'keepAlive')) void this.sandboxes.recordActivity(actor, info.id);
      return toStatus(info, id);
    });
  }

  /** ROCK's own is_alive route (the SDK uses get_status): any trouble reads as not alive. */
  async isAlive(actor: Actor, query: Record<string, unknown>): Promise<RockEnvelope> {
    try {
      const info = await this.find(actor, parseQueryId(query.sandbox_id));
      const status = toStatus(info, info.id);
      return rockSuccess({ is_alive: status.is_alive, message: status.host_name });
    } catch {
      const id = typeof query.sandbox_id === 'string' ? query.sandbox_id : '';
      return rockSuccess({ is_alive: false, message: `sandbox ${id} is alive failed` });
    }
  }

  stop(actor: Actor, body: unknown): Promise<RockEnvelope> {
    return this.answer('stop sandbox', async () => {
      const { sandbox_id: id } = parseBody(idOnly, body);
      await this.sandboxes.stop(actor, (await this.find(actor, id)).id);
      return `${id} stopped`;
    });
  }

  restart(actor: Actor, body: unknown): Promise<RockEnvelope> {
    return this.answer('restart sandbox', async (): Promise<RockStart> => {
      const { sandbox_id: id } = parseBody(idOnly, body);
      const info = await this.find(actor, id);
      // The machine decides; ROCK's wording of its refusal.
      const restarted = await this.sandboxes.restart(actor, info.id).catch((error: unknown) => {
        throw refusedIn(error, (state) => `cannot be restarted: current state is '${state}'`, id);
      });
      return toStart(restarted, id);
    });
  }

  delete(actor: Actor, body: unknown): Promise<RockEnvelope> {
    return this.answer('delete sandbox', async () => {
      const { sandbox_id: id } = parseBody(idOnly, body);
      const info = await this.find(actor, id);
      await this.sandboxes.delete(actor, info.id, false).catch((error: unknown) => {
        throw refusedIn(
          error,
          (state) => `cannot be deleted: current state is '${state}', it must be stopped first`,
          id,
        );
      });
      return `${id} deleted`;
    });
  }

  execute(actor: Actor, body: unknown): Promise<RockEnvelope> {
    return this.answer('execute command', async () => {
      const request = parseBody(executeSchema, body);
      const command =
        typeof request.command === 'string' && request.shell !== false
          ? request.command
          : typeof request.command === 'string'
            ? [request.command]
            : request.command;
      const timeout = Math.ceil(request.timeout ?? DEFAULT_EXECUTE_TIMEOUT_SECONDS);
      try {
        const result = await this.work.exec(actor, request.sandbox_id, {
          command,
          cwd: request.cwd ?? undefined,
          env: request.env ?? undefined,
          // SDK users send 1200 s whatever the server allows: the cap applies, not a refusal.
          timeoutSeconds: Math.min(timeout, this.execConfig.maxTimeoutSeconds),
        });
        try {
          return {
            stdout: result.stdout.toString('utf8'),
            stderr: result.stderr.toString('utf8'),
            exit_code: result.timedOut || result.exitCode === null ? -1 : result.exitCode,
          };
        } finally {
          result.release();
        }
      } catch (error) {
        // ROCK answers a command that cannot be spawned as exit code -1, not as a failure.
        if (isCodedError(error, 'EXEC_FAILED')) {
          return { stdout: '', stderr: error.message, exit_code: -1 };
        }
        throw error;
      }
    });
  }

  createSession(actor: Actor, body: unknown): Promise<RockEnvelope> {
    return this.answer('create session', () => this.sessions.create(actor, body));
  }

  runInSession(actor: Actor, body: unknown): Promise<RockEnvelope> {
    return this.answer('run in session', (): Promise<Observation> =>
      this.sessions.run(actor, body),
    );
  }

  closeSession(actor: Actor, body: unknown): Promise<RockEnvelope> {
    return this.answer('close session', () => this.sessions.close(actor, body));
  }

  writeFile(actor: Actor, body: unknown): Promise<RockEnvelope> {
    return this.answer('write file', async () => {
      const request = parseBody(writeSchema, body);
      const path = absolute(request.path, 'path');
      await this.makeParent(actor, request.sandbox_id, path);
      await this.work.writeFile(
        actor,
        request.sandbox_id,
        path,
        Buffer.from(request.content, 'utf8'),
      );
      return { success: true, message: `Successfully write content to file ${path}` };
    });
  }

  /**
   * A failure still carries `content: ""`: ROCK's SDK reads result.content without looking at the
   * status, as ROCK answers a missing file with an empty one.
   */
  readFile(actor: Actor, body: unknown): Promise<RockEnvelope> {
    return this.answer(
      'read file',
      async () => {
        const request = parseBody(readSchema, body);
        const path = absolute(request.path, 'path');
        const read = await this.work.read(actor, request.sandbox_id, path);
        if (read.kind !== 'file') throw badRequest(`${path} is a directory, not a file`);
        const chunks: Buffer[] = [];
        for await (const chunk of read.content) chunks.push(chunk as Buffer);
        return { content: decode(Buffer.concat(chunks), request.encoding, request.errors, path) };
      },
      { content: '' },
    );
  }

  upload(
    actor: Actor,
    fields: Record<string, unknown>,
    file: SpooledUpload | undefined,
  ): Promise<RockEnvelope> {
    return this.answer('upload file', async () => {
      const request = parseBody(z.object({ sandbox_id: nonBlank, target_path: nonBlank }), fields);
      if (file === undefined) throw badRequest('invalid parameter: file: a file part is required');
      const path = absolute(request.target_path, 'target_path');
      await this.makeParent(actor, request.sandbox_id, path);
      await this.work.writeFile(actor, request.sandbox_id, path, createReadStream(file.path), {
        size: file.size,
      });
      return {
        success: true,
        message: `Successfully uploaded file ${file.originalname} to ${path}`,
        file_name: posix.basename(path),
      };
    });
  }

  /** What sandboxd has no counterpart for: a Failed envelope saying so, never a 404. */
  unsupported(route: string, why: string): RockEnvelope {
    return rockFailureOf(route, badRequest(`${route} is not supported by sandboxd: ${why}`));
  }

  private async find(actor: Actor, id: string): Promise<SandboxInfo> {
    try {
      return await this.sandboxes.get(actor, id);
    } catch (error) {
      if (isCodedError(error, 'SANDBOX_NOT_FOUND')) throw badRequest(`sandbox ${id} not found`);
      throw error;
    }
  }

  /** ROCK creates missing parent directories of a written file; the archive API does not. */
  private async makeParent(actor: Actor, sandboxId: string, path: string): Promise<void> {
    const parent = posix.dirname(path);
    if (parent === '/') return;
    const result = await this.work.exec(actor, sandboxId, {
      command: ['mkdir', '-p', parent],
      timeoutSeconds: 30,
    });
    try {
      if (result.exitCode !== 0) {
        throw badRequest(`could not create ${parent}: ${result.stderr.toString('utf8').trim()}`);
      }
    } finally {
      result.release();
    }
  }

  private async answer<T>(
    route: string,
    work: () => Promise<T>,
    failureExtra: Record<string, unknown> = {},
  ): Promise<RockEnvelope> {
    try {
      return rockSuccess(await work());
    } catch (error) {
      if (isUnexpected(error)) {
        this.logger.error(
          `${route}: ${describeError(error)}`,
          error instanceof Error ? error.stack : undefined,
        );
      }
      const failure = rockFailureOf(route, error);
      if (failure.result) failure.result = { ...failureExtra, ...failure.result };
      return failure;
    }
  }
}

/**
 * The machine's INVALID_TRANSITION in ROCK's words (a 4000 either way, see rockCodeOf); any other
 * error as it is.
 */
function refusedIn(error: unknown, saying: (state: string) => string, id: string): unknown {
  if (!isCodedError(error, 'INVALID_TRANSITION')) return error;
  const state = typeof error.details?.state === 'string' ? error.details.state : 'unknown';
  return badRequest(`sandbox ${id} ${saying(state)}`);
}

function absolute(path: string, field: string): string {
  if (!path.startsWith('/')) {
    throw badRequest(`invalid parameter: ${field}: must be an absolute path inside the sandbox`);
  }
  return path;
}

function decode(
  data: Buffer,
  encoding: string | null | undefined,
  errors: 'strict' | 'replace' | 'ignore' | null | undefined,
  path: string,
): string {
  const codec = ENCODINGS[(encoding ?? 'utf-8').toLowerCase()];
  if (codec !== 'utf8') return data.toString(codec);
  const mode = errors ?? 'strict';
  if (mode === 'replace') return data.toString('utf8');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    if (mode === 'ignore') return data.toString('utf8').replace(/\uFFFD/g, '');
    throw new RockError(
      ROCK_CODES.badRequest,
      `${path} is not valid utf-8 text; read it with errors="replace", or download it another way`,
    );
  }
}
