import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { ExecConfig } from '@app/config';
import type { Actor } from '@app/domain';
import { SandboxWorkService } from '@app/sandbox';
import { ROCK_CODES } from './rock-envelope';
import { RockError, badRequest } from './rock-errors';
import { nonBlank, parseBody } from './rock-input';
import { CLOSE_SCRIPT, CREATE_SCRIPT, RUN_SCRIPT, TRAMPOLINE } from './session-scripts';
import { splitAnswer, transcriptOf } from './session-output';

/** Session names become a directory name: letters, digits, _ . - only (no slashes, no shell). */
const SESSION_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;
const USER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/;
/** Bound of the short execs that create and close a session. */
const HELPER_TIMEOUT_SECONDS = 30;
/** What the run script needs past the command's own timeout: kill, grace, read-out. */
const RUN_SLACK_SECONDS = 10;

const sessionName = z
  .string()
  .regex(SESSION_NAME, {
    message: 'must be 1-128 letters, digits, _ . - (no slashes, blanks or shell characters)',
  })
  .default('default');
const sessionType = z.literal('bash').nullish();

const createSchema = z.object({
  sandbox_id: nonBlank,
  session: sessionName,
  session_type: sessionType,
  startup_source: z.array(nonBlank).max(64).nullish(),
  env_enable: z.boolean().nullish(),
  env: z
    .record(
      z.string().regex(ENV_NAME, { message: 'must be an environment variable name' }),
      z.string(),
    )
    .nullish(),
  remote_user: z.string().regex(USER_NAME, { message: 'must be a user name or uid' }).nullish(),
});

const runSchema = z.object({
  sandbox_id: nonBlank,
  session: sessionName,
  action_type: sessionType,
  command: nonBlank,
  check: z.enum(['raise', 'silent', 'ignore']).nullish(),
  timeout: z.number().positive().nullish(),
});

const closeSchema = z.object({
  sandbox_id: nonBlank,
  session: sessionName,
  session_type: sessionType,
});

export interface Observation {
  session_type: 'bash';
  output: string;
  exit_code: number | null;
  failure_reason: string;
  expect_string: string;
}

/**
 * ROCK bash sessions on any image, through the same exec pipeline as /v1 (SandboxWorkService):
 * every call is one short exec of a script in session-scripts.ts. Nothing is kept in this process.
 */
@Injectable()
export class BashSessions {
  constructor(
    private readonly config: ExecConfig,
    private readonly work: SandboxWorkService,
  ) {}

  /** A name already in use answers as on ROCK: success, nothing done. */
  async create(actor: Actor, body: unknown): Promise<{ output: string; session_type: 'bash' }> {
    const request = parseBody(createSchema, body);
    for (const [name, value] of Object.entries(request.env ?? {})) {
      if (value.includes('\0'))
        throw badRequest(`invalid parameter: env.${name}: must not contain NUL`);
    }
    const assignments = Object.entries(request.env ?? {}).map(([k, v]) => `${k}=${v}`);
    const prelude = (request.startup_source ?? [])
      .map((file) => `. ${shellQuote(file)}\n`)
      .join('');
    const keep = request.env_enable === true ? '1' : '0';
    const answer = await this.script(
      actor,
      request.sandbox_id,
      CREATE_SCRIPT,
      [request.session, keep, ...assignments],
      prelude,
      HELPER_TIMEOUT_SECONDS,
      request.remote_user ?? undefined,
    );
    const status = answer.stdout.toString('utf8').trim();
    if (status !== 'created' && status !== 'exists') {
      throw new RockError(
        ROCK_CODES.internal,
        `session ${request.session} could not be created: ${tail(answer.stdout, answer.stderr)}`,
      );
    }
    return { output: '', session_type: 'bash' };
  }

  /** Runs one command; a RockError for what ROCK answers Failed (non-zero exit under raise, …). */
  async run(actor: Actor, body: unknown): Promise<Observation> {
    const request = parseBody(runSchema, body);
    const max = Math.max(1, this.config.maxTimeoutSeconds - RUN_SLACK_SECONDS);
    const timeout = Math.min(max, Math.ceil(request.timeout ?? max));
    const id = randomBytes(8).toString('hex');
    const answer = await this.script(
      actor,
      request.sandbox_id,
      RUN_SCRIPT,
      [request.session, id, String(timeout)],
      `${request.command}\n`,
      Math.min(this.config.maxTimeoutSeconds, timeout + RUN_SLACK_SECONDS),
    );
    const { status, exitCode, output } = splitAnswer(answer.stdout);
    const transcript = transcriptOf(output, id);
    const sandbox = request.sandbox_id;
    switch (status) {
      case 'nosession':
        throw badRequest(
          `session ${request.session} does not exist in sandbox ${sandbox} (create_session first; sessions end when the sandbox stops)`,
        );
      case 'gone':
        throw new RockError(
          ROCK_CODES.command,
          `the shell of session ${request.session} exited while running the command; create the session again`,
        );
      case 'timeout':
        throw new RockError(
          ROCK_CODES.command,
          `command timed out after ${timeout} s and was stopped; the session is kept. Output: ${transcript}`,
          {},
          exitCode,
        );
      case 'killed':
        throw new RockError(
          ROCK_CODES.command,
          `command timed out after ${timeout} s and did not stop; session ${request.session} was closed, create it again`,
        );
      case 'ok':
        break;
      default:
        throw new RockError(
          ROCK_CODES.internal,
          `session ${request.session} did not answer: ${tail(answer.stdout, answer.stderr)}`,
        );
    }
    const check = request.check ?? 'raise';
    if (check === 'raise' && exitCode !== 0) {
      throw new RockError(
        ROCK_CODES.command,
        `command exited with code ${exitCode ?? 'unknown'}. Output: ${transcript}`,
        {},
        exitCode,
      );
    }
    return {
      session_type: 'bash',
      output: transcript,
      exit_code: check === 'ignore' ? null : exitCode,
      failure_reason: '',
      expect_string: '',
    };
  }

  /** An unknown session answers as on ROCK: success, nothing done. */
  async close(actor: Actor, body: unknown): Promise<{ session_type: 'bash' }> {
    const request = parseBody(closeSchema, body);
    await this.script(
      actor,
      request.sandbox_id,
      CLOSE_SCRIPT,
      [request.session],
      undefined,
      HELPER_TIMEOUT_SECONDS,
    );
    return { session_type: 'bash' };
  }

  private async script(
    actor: Actor,
    sandboxId: string,
    script: string,
    args: string[],
    stdin: string | undefined,
    timeoutSeconds: number,
    user?: string,
  ) {
    const result = await this.work.exec(actor, sandboxId, {
      command: ['sh', '-c', TRAMPOLINE, 'sh', script, ...args],
      stdin,
      user,
      timeoutSeconds,
    });
    try {
      return {
        stdout: Buffer.from(result.stdout),
        stderr: Buffer.from(result.stderr),
        exitCode: result.exitCode,
      };
    } finally {
      result.release();
    }
  }
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function tail(stdout: Buffer, stderr: Buffer): string {
  const text = `${stdout.toString('utf8')} ${stderr.toString('utf8')}`.trim();
  return text.length > 500 ? `…${text.slice(-500)}` : text || 'no output';
}
