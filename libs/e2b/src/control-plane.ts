import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { DockerConfig, E2bConfig } from '@app/config';
import { Actor, SandboxInfo, isCodedError } from '@app/domain';
import { CreateSandboxInput, SandboxService, stateAllows } from '@app/sandbox';
import { E2bApiError, badRequest, notFound } from './e2b-errors';
import {
  E2bState,
  METADATA_PREFIX,
  PAUSE_REASON,
  TEMPLATE_LABEL,
  detailAnswer,
  e2bStateOf,
  listedAnswer,
  sandboxAnswer,
} from './sandbox-view';
import { TemplateNotFound, localImageCheck, resolveTemplate } from './templates';

/** E2B's default when a create or connect names no timeout (the v2 routes; older SDKs send 300). */
export const DEFAULT_TIMEOUT_SECONDS = 300;
const LABEL_KEY = /^[A-Za-z0-9_./-]{1,115}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

const createSchema = z.object({
  templateID: z.string().min(1).max(255).default('base'),
  timeout: z
    .number()
    .int()
    .positive()
    .max(31 * 24 * 3600)
    .nullish(),
  metadata: z
    .record(
      z.string().regex(LABEL_KEY, { message: 'keys: letters, digits, _ . / - (at most 115)' }),
      z
        .string()
        .max(512)
        .refine((v) => !CONTROL.test(v), { message: 'no control characters' }),
    )
    .nullish()
    .refine((m) => !m || Object.keys(m).length <= 60, { message: 'at most 60 entries' }),
  envVars: z
    .record(
      z.string().regex(ENV_NAME, { message: 'must be an environment variable name' }),
      z.string().refine((v) => !v.includes('\0'), { message: 'must not contain NUL' }),
    )
    .nullish(),
});
const timeoutSchema = z.object({
  timeout: z
    .number()
    .int()
    .min(0)
    .max(31 * 24 * 3600),
});
const connectSchema = z.object({ timeout: z.number().int().positive().nullish() }).passthrough();

type Json = Record<string, unknown>;

export interface ListAnswer {
  items: Json[];
  nextToken: string | null;
}

/**
 * E2B's control plane as a translation onto SandboxService: create is a create with the template's
 * image whose max lifetime is E2B's timeout (no idle timeout: E2B has none), pause is a stop that
 * keeps the file system, connect restarts a paused sandbox, kill deletes. Every method takes the
 * caller's Actor (E2bCaller) and passes it on: a tenant key lists, reads and changes only its own
 * tenant's sandboxes, and another tenant's answers 404 like one that does not exist.
 */
@Injectable()
export class E2bControlPlane {
  private readonly isLocal: (image: string) => Promise<boolean>;

  constructor(
    private readonly config: E2bConfig,
    docker: DockerConfig,
    private readonly sandboxes: SandboxService,
  ) {
    this.isLocal = localImageCheck(docker.socketPath);
  }

  async create(actor: Actor, body: unknown): Promise<Json> {
    const request = parse(createSchema, body ?? {});
    let image: string;
    try {
      image = await resolveTemplate(request.templateID, this.config.templates, this.isLocal);
    } catch (error) {
      if (error instanceof TemplateNotFound) throw notFound(error.message);
      throw error;
    }
    const labels: Record<string, string> = { [TEMPLATE_LABEL]: request.templateID };
    for (const [key, value] of Object.entries(request.metadata ?? {})) {
      labels[`${METADATA_PREFIX}${key}`] = value;
    }
    const input: CreateSandboxInput = {
      image,
      env: request.envVars ?? undefined,
      labels,
      idleTimeoutSeconds: 0,
      maxLifetimeSeconds: request.timeout ?? DEFAULT_TIMEOUT_SECONDS,
    };
    try {
      const { sandbox } = await this.sandboxes.create(actor, input, { wait: true });
      // Ready for E2B: the machine takes commands in it.
      if (!stateAllows(sandbox, 'exec')) {
        throw new E2bApiError(
          500,
          `sandbox ${sandbox.id} did not start: ${sandbox.failureReason ?? sandbox.state}`,
        );
      }
      return sandboxAnswer(sandbox, accessTokenOf(sandbox.id));
    } catch (error) {
      if (isCodedError(error, 'IMAGE_UNAVAILABLE')) {
        throw notFound(`template '${request.templateID}' not found: ${error.message}`);
      }
      throw error;
    }
  }

  /** One page; `nextToken` goes back to the SDK as the x-next-token header. */
  async list(actor: Actor, query: Record<string, unknown>): Promise<ListAnswer> {
    const states = parseStates(query.state);
    const metadata = parseMetadata(query.metadata);
    const limit = parseLimit(query.limit);
    const labels: Record<string, string> = {};
    for (const [key, value] of Object.entries(metadata)) labels[`${METADATA_PREFIX}${key}`] = value;
    const items: Json[] = [];
    let cursor =
      typeof query.nextToken === 'string' && query.nextToken ? query.nextToken : undefined;
    // Records E2B would not show (stopped by a timeout) are skipped, so a page may need more reads.
    for (;;) {
      const page = await this.sandboxes.list(actor, {
        states: states.has('paused') ? ['pending', 'running', 'stopped'] : ['pending', 'running'],
        labels,
        limit: limit - items.length,
        cursor,
      });
      for (const info of page.items) {
        const e2b = e2bStateOf(info);
        if (e2b && states.has(e2b)) items.push(listedAnswer(info, e2b));
      }
      cursor = page.nextCursor ?? undefined;
      if (!cursor || items.length >= limit) return { items, nextToken: cursor ?? null };
    }
  }

  async get(actor: Actor, id: string): Promise<Json> {
    const { info, e2b } = await this.find(actor, id);
    return detailAnswer(info, e2b, accessTokenOf(info.id));
  }

  /** A sandbox E2B would not know answers 404 with `code: 404`, so `kill()` returns false. */
  async kill(actor: Actor, id: string): Promise<void> {
    const { info } = await this.find(actor, id);
    await this.sandboxes.delete(actor, info.id, true);
  }

  /**
   * E2B's setTimeout: the end of life becomes now + timeout. sandboxd keeps it as the max
   * lifetime, counted from the start, so the new lifetime is the time from the start to then.
   */
  async setTimeout(actor: Actor, id: string, body: unknown): Promise<void> {
    const { timeout } = parse(timeoutSchema, body ?? {});
    const { info } = await this.find(actor, id);
    const since = Date.parse(info.startedAt ?? info.createdAt);
    const seconds = Math.max(1, Math.ceil((Date.now() + timeout * 1000 - since) / 1000));
    await this.sandboxes.setMaxLifetime(actor, info.id, seconds);
  }

  /** 409 when already paused, as E2B answers (the SDK returns false). */
  async pause(actor: Actor, id: string): Promise<void> {
    const { info, e2b } = await this.find(actor, id);
    if (e2b === 'paused') throw new E2bApiError(409, `sandbox ${id} is already paused`);
    await this.sandboxes.stop(actor, info.id, PAUSE_REASON);
  }

  /** Connects to a running sandbox, or resumes a paused one (its files kept, not its memory). */
  async connect(
    actor: Actor,
    id: string,
    body: unknown,
  ): Promise<{ created: boolean; answer: Json }> {
    parse(connectSchema, body ?? {});
    const { info, e2b } = await this.find(actor, id);
    if (e2b === 'running')
      return { created: false, answer: sandboxAnswer(info, accessTokenOf(info.id)) };
    const resumed = await this.sandboxes.restart(actor, info.id);
    return { created: true, answer: sandboxAnswer(resumed, accessTokenOf(resumed.id)) };
  }

  private async find(actor: Actor, id: string): Promise<{ info: SandboxInfo; e2b: E2bState }> {
    const info = await this.load(actor, id);
    const e2b = e2bStateOf(info);
    if (!e2b) throw notFound(`sandbox ${id} not found`);
    return { info, e2b };
  }

  private async load(actor: Actor, id: string): Promise<SandboxInfo> {
    try {
      return await this.sandboxes.get(actor, id);
    } catch (error) {
      if (isCodedError(error, 'SANDBOX_NOT_FOUND')) throw notFound(`sandbox ${id} not found`);
      throw error;
    }
  }
}

/**
 * The sandbox's envdAccessToken. Auth is not built yet (it comes with access control): any token
 * is accepted, so this only has to be stable.
 */
export function accessTokenOf(id: string): string {
  return createHash('sha256').update(`sandboxd-e2b:${id}`).digest('hex').slice(0, 40);
}

function parse<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
  throw badRequest(`invalid request: ${problems.join('; ')}`);
}

function parseStates(raw: unknown): Set<E2bState> {
  if (raw === undefined || raw === '') return new Set(['running', 'paused']);
  const text = typeof raw === 'string' ? raw : Array.isArray(raw) ? raw.join(',') : '';
  const states = new Set<E2bState>();
  for (const s of text.split(',')) {
    if (s !== 'running' && s !== 'paused') throw badRequest(`state: unknown state '${s}'`);
    states.add(s);
  }
  return states;
}

/** `metadata` is a URL-encoded `k=v&…` string. */
function parseMetadata(raw: unknown): Record<string, string> {
  if (typeof raw !== 'string' || raw === '') return {};
  const pairs: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    if (!LABEL_KEY.test(key)) throw badRequest(`metadata: bad key '${key}'`);
    pairs[key] = value;
  }
  return pairs;
}

function parseLimit(raw: unknown): number {
  if (raw === undefined || raw === '') return 100;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw badRequest('limit: must be 1-1000');
  return n;
}
