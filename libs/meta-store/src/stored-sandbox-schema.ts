import {
  ACTOR_KINDS,
  CodedError,
  SANDBOX_NETWORKS,
  SANDBOX_OPERATIONS,
  SANDBOX_STATES,
  TENANT_NAME_PATTERN,
} from '@app/domain';
import { z } from 'zod';
import type { SandboxInfo, SealedSandboxSpec } from '@app/domain';

/**
 * What a stored info or spec blob must be to be read at all. The database's `info` and `spec`
 * columns and the cache's alive entries are data that crossed a process boundary: they are checked
 * value by value on every read, not cast. zod rather than class-validator (already used for HTTP
 * bodies and env): zod checks a plain parsed JSON object as it is, without instantiating a class
 * per read (plainToInstance + validateSync), and is several times faster at it, which matters on
 * the read path (one parse per sandbox in every list page). The annotation `z.ZodType<SandboxInfo>`
 * makes the compiler reject the schema when a field of SandboxInfo is added and not declared here.
 *
 * Unknown keys are stripped (zod's default), so a DB-only field can never reach a reader. A field
 * an older version did not write is not defaulted here: the BackfillStoredBlobs migration wrote
 * it into every row, so a blob without it is corrupt.
 */
const isoInstant = z.string().refine((value) => !Number.isNaN(Date.parse(value)), {
  message: 'must be an ISO-8601 instant',
});
const nullableCount = z.number().int().nonnegative().nullable();

const historyEntrySchema = z.object({
  from: z.enum(SANDBOX_STATES),
  to: z.enum(SANDBOX_STATES),
  event: z.string(),
  at: z.string(),
  reason: z.string().optional(),
  // Entries written before actors were recorded have none: optional, not back-filled.
  actor: z
    .object({
      kind: z.enum(ACTOR_KINDS),
      tenant: z.string().nullable(),
      keyId: z.string().nullable(),
    })
    .optional(),
});

const diskLimitSchema = z.object({
  requested: z.string(),
  requestedBytes: z.number().nonnegative(),
  enforced: z.boolean(),
  reason: z.string().nullable(),
});

const logDirQuotaSchema = z.object({
  shared: z.boolean(),
  projectId: z.number().int().nullable(),
  reason: z.string().nullable(),
});

export const sandboxInfoSchema: z.ZodType<SandboxInfo> = z.object({
  id: z.string().min(1),
  name: z.string().nullable(),
  // AddSandboxTenant wrote null into every older blob.
  tenant: z.string().regex(TENANT_NAME_PATTERN).nullable(),
  state: z.enum(SANDBOX_STATES),
  operation: z.enum(SANDBOX_OPERATIONS).nullable(),
  image: z.string(),
  cpus: z.number().nonnegative().nullable(),
  memoryBytes: nullableCount,
  envKeys: z.array(z.string()),
  labels: z.record(z.string(), z.string()),
  ports: z.record(z.string(), z.number().int()),
  host: z.string().nullable(),
  containerId: z.string().nullable(),
  instanceId: z.string(),
  // Records written before cluster mode have no node: they are on the single host.
  node: z.string().nullable().default(null),
  idleTimeoutSeconds: z.number(),
  // -1 is a value the API takes (delete on stop); ranges are the write path's business.
  autoDeleteSeconds: z.number().nullable(),
  createdAt: isoInstant,
  startedAt: isoInstant.nullable(),
  stoppedAt: isoInstant.nullable(),
  deletedAt: isoInstant.nullable(),
  failureReason: z.string().nullable(),
  stateHistory: z.array(historyEntrySchema),
  autoStopAt: isoInstant.nullable(),
  autoDeleteAt: isoInstant.nullable(),
  protected: z.boolean(),
  maxLifetimeSeconds: z.number().nullable(),
  lastActivityAt: isoInstant.nullable(),
  pidsLimit: z.number().int().nullable(),
  runtime: z.string().min(1),
  network: z.enum(SANDBOX_NETWORKS),
  disk: diskLimitSchema.nullable(),
  logDirQuota: logDirQuotaSchema.nullable(),
  fromPool: z.boolean(),
});

export const sealedSpecSchema: z.ZodType<SealedSandboxSpec> = z.object({
  image: z.string(),
  cpus: z.number().nonnegative().nullable(),
  memoryBytes: nullableCount,
  sealedEnv: z.record(z.string(), z.string()),
  labels: z.record(z.string(), z.string()),
  ports: z.array(z.number().int()),
  command: z.array(z.string()).nullable(),
  entrypoint: z.array(z.string()).nullable(),
  idleTimeoutSeconds: z.number(),
  // -1 is a value the API takes (delete on stop); ranges are the write path's business.
  autoDeleteSeconds: z.number().nullable(),
  maxLifetimeSeconds: z.number().nullable(),
  pidsLimit: z.number().int().nullable(),
  diskBytes: nullableCount,
  disk: z.string().nullable(),
  runtime: z.string().min(1),
  network: z.enum(SANDBOX_NETWORKS),
});

/**
 * RECORD_CORRUPT for one sandbox whose stored data fails its schema: that sandbox answers it (500,
 * with the errorId of the log line), scans and list pages skip it, and nothing else is affected.
 */
export function recordCorrupt(sandboxId: string, what: string, problem: string): CodedError {
  return new CodedError(
    'RECORD_CORRUPT',
    `The stored ${what} of sandbox ${sandboxId} is unreadable: ${problem}`,
    { sandboxId },
  );
}

/** The first few problems of a failed parse, for the error message and the log. */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(root)'} ${issue.message}`)
    .join('; ');
}

/** A parsed JSON value (or JSON text) checked against `schema`; RECORD_CORRUPT if it fails. */
function parseStored<T>(schema: z.ZodType<T>, raw: unknown, sandboxId: string, what: string): T {
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      throw recordCorrupt(sandboxId, what, 'not JSON');
    }
  }
  const result = schema.safeParse(value);
  if (!result.success) throw recordCorrupt(sandboxId, what, describeIssues(result.error));
  return result.data;
}

/** A stored info blob (the `info` column) as a SandboxInfo; RECORD_CORRUPT if it is not one. */
export function parseStoredInfo(raw: unknown, sandboxId: string): SandboxInfo {
  return parseStored(sandboxInfoSchema, raw, sandboxId, 'info');
}

/** A stored spec blob (the `spec` column) as a sealed spec; RECORD_CORRUPT if it is not one. */
export function parseStoredSpec(raw: unknown, sandboxId: string): SealedSandboxSpec {
  return parseStored(sealedSpecSchema, raw, sandboxId, 'spec');
}

/**
 * A cached alive entry (already JSON-parsed) as the info of `sandboxId`, or null when it is not a
 * valid info of that sandbox: the caller treats null as a miss, evicts the entry and reads the DB.
 */
export function cachedInfoOf(parsed: unknown, sandboxId: string): SandboxInfo | null {
  const result = sandboxInfoSchema.safeParse(parsed);
  return result.success && result.data.id === sandboxId ? result.data : null;
}
