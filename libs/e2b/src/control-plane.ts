import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { E2bConfig } from '@app/config';
import { Actor, SandboxInfo, isCodedError } from '@app/domain';
import {
  CreateSandboxInput,
  ENV_RULES,
  LABEL_RULES,
  SandboxAccessTokens,
  SandboxService,
  stateAllows,
  stringMapProblem,
} from '@app/sandbox';
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
import { TemplateNotFound, resolveTemplate } from './templates';

/** E2B's default when a create or connect names no timeout (the v2 routes; older SDKs send 300). */
const DEFAULT_TIMEOUT_SECONDS = 300;
const MAX_TIMEOUT_SECONDS = 31 * 24 * 3600;
const LABEL_KEY = LABEL_RULES.keyPattern;

/** Maps of strings are checked by the rules every front door shares (ENV_RULES, LABEL_RULES). */
const stringMap = z.record(z.string(), z.unknown());
const createSchema = z.object({
  templateID: z.string().min(1).max(255).default('base'),
  timeout: z.number().int().positive().max(MAX_TIMEOUT_SECONDS).nullish(),
  metadata: stringMap.nullish(),
  envVars: stringMap.nullish(),
  // false: no envdAccessToken, and the data plane takes any call (E2B's semantics).
  secure: z.boolean().nullish(),
});
const timeoutSchema = z.object({
  timeout: z.number().int().min(0).max(MAX_TIMEOUT_SECONDS),
});
const connectSchema = z
  .object({ timeout: z.number().int().positive().max(MAX_TIMEOUT_SECONDS).nullish() })
  .passthrough();

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
 * tenant's sandboxes, and another tenant's answers 404 like one that does not exist. Each sandbox
 * has its own envdAccessToken (SandboxAccessTokens), issued at create, or at the first E2B connect
 * (or get) of a sandbox made through sandboxd's own API, to a caller who may see it.
 */
@Injectable()
export class E2bControlPlane {
  constructor(
    private readonly config: E2bConfig,
    private readonly sandboxes: SandboxService,
    private readonly tokens: SandboxAccessTokens,
  ) {}

  async create(actor: Actor, body: unknown): Promise<Json> {
    const request = parse(createSchema, body ?? {});
    const envProblem = request.envVars ? stringMapProblem(request.envVars, ENV_RULES) : null;
    if (envProblem) throw badRequest(`invalid request: envVars: ${envProblem}`);
    // Metadata is kept as labels (e2b.metadata/<key>), next to the template's: as labels, by the
    // rules of every sandbox's labels.
    const labels: Record<string, unknown> = { [TEMPLATE_LABEL]: request.templateID };
    for (const [key, value] of Object.entries(request.metadata ?? {})) {
      labels[`${METADATA_PREFIX}${key}`] = value;
    }
    const labelProblem = stringMapProblem(labels, LABEL_RULES);
    if (labelProblem) {
      throw badRequest(
        `invalid request: metadata (kept as labels ${METADATA_PREFIX}<key>): ${labelProblem}`,
      );
    }
    const image = await this.imageOf(request.templateID);
    const input: CreateSandboxInput = {
      image,
      env: (request.envVars as Record<string, string> | null | undefined) ?? undefined,
      labels: labels as Record<string, string>,
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
      const { token } = await this.tokens.issue(sandbox.id, { open: request.secure === false });
      return sandboxAnswer(sandbox, token ?? undefined);
    } catch (error) {
      if (isCodedError(error, 'IMAGE_UNAVAILABLE')) {
        throw notFound(`template '${request.templateID}' not found: ${error.message}`);
      }
      throw error;
    }
  }

  /**
   * The template's image. "Not found" only when the engine says so: an engine that cannot answer
   * is RUNTIME_UNAVAILABLE (503, E2B's "service busy").
   */
  private async imageOf(templateId: string): Promise<string> {
    try {
      return await resolveTemplate(templateId, this.config.templates, (image) =>
        this.sandboxes.isImagePresent(image),
      );
    } catch (error) {
      if (error instanceof TemplateNotFound) throw notFound(error.message);
      if (isCodedError(error, 'RUNTIME_UNAVAILABLE')) {
        throw new E2bApiError(
          503,
          `template '${templateId}' could not be checked: the container engine is unavailable (${error.message})`,
        );
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
    return detailAnswer(info, e2b, await this.tokenOf(info));
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

  /**
   * Connects to a running sandbox, or resumes a paused one (its files kept, not its memory). The
   * timeout (E2B's default when none is sent) moves the end of life to now + timeout: for a
   * running sandbox only when that is later than its current end (as E2B does), for a resumed one
   * in any case (its clock starts again). A sandbox without a max lifetime keeps none.
   */
  async connect(
    actor: Actor,
    id: string,
    body: unknown,
  ): Promise<{ created: boolean; answer: Json }> {
    const { timeout } = parse(connectSchema, body ?? {});
    const seconds = timeout ?? DEFAULT_TIMEOUT_SECONDS;
    const { info, e2b } = await this.find(actor, id);
    const token = await this.tokenOf(info);
    if (e2b === 'running') {
      const current = await this.endIn(actor, info, seconds, { shorter: false });
      return { created: false, answer: sandboxAnswer(current, token) };
    }
    const resumed = await this.sandboxes.restart(actor, info.id);
    const current = await this.endIn(actor, resumed, seconds, { shorter: true });
    return { created: true, answer: sandboxAnswer(current, token) };
  }

  /** Moves the end of life to now + `seconds` (never earlier than now unless `shorter`). */
  private async endIn(
    actor: Actor,
    info: SandboxInfo,
    seconds: number,
    { shorter }: { shorter: boolean },
  ): Promise<SandboxInfo> {
    if (info.maxLifetimeSeconds === null) return info;
    const since = Date.parse(info.startedAt ?? info.createdAt);
    const lifetime = Math.max(1, Math.ceil((Date.now() + seconds * 1000 - since) / 1000));
    if (!shorter && lifetime <= info.maxLifetimeSeconds) return info;
    return this.sandboxes.setMaxLifetime(actor, info.id, lifetime);
  }

  /** The sandbox's envdAccessToken (undefined: open), issued now if it has none yet. */
  private async tokenOf(info: SandboxInfo): Promise<string | undefined> {
    const { token } = await this.tokens.issue(info.id);
    return token ?? undefined;
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
