import { z } from 'zod';
import {
  COLUMN_LIMITS,
  CreateSandboxInput,
  IMAGE_REFERENCE_PATTERN,
  SANDBOX_NAME_PATTERN,
  isRequestedSize,
  requestedSizeProblem,
} from '@app/sandbox';
import { badRequest } from './rock-errors';
import { nonBlank, parseBody } from './rock-input';

const MAX_SECONDS = 31_536_000;

const size = (field: string) =>
  z
    .string()
    .nullish()
    .refine((value) => value === null || value === undefined || isRequestedSize(value), {
      message: requestedSizeProblem(field),
    });

/** `SandboxStartRequest` of ROCK's SDK; GPU, registry and OS fields are accepted and ignored. */
const startSchema = z.object({
  image: nonBlank.refine((value) => value.length <= 512 && IMAGE_REFERENCE_PATTERN.test(value), {
    message: 'must be a valid image reference (name[:tag][@digest])',
  }),
  sandbox_id: z
    .string()
    .regex(SANDBOX_NAME_PATTERN, {
      message:
        'must be 1-63 letters, digits, _ . - (starting with a letter or digit, not 25 lower-case letters and digits)',
    })
    .nullish(),
  auto_clear_time_minutes: z
    .number()
    .int()
    .min(0)
    .max(MAX_SECONDS / 60)
    .nullish(),
  auto_delete_seconds: z.number().int().min(0).max(MAX_SECONDS).nullish(),
  auto_archive_seconds: z.number().int().min(0).nullish(),
  memory: size('memory'),
  cpus: z.number().min(0.1).max(64).nullish(),
  disk: size('disk'),
  use_kata_runtime: z.boolean().nullish(),
  startup_timeout: z.number().nullish(),
  limit_cpus: z.number().nullish(),
  num_gpus: z.number().nullish(),
});

/** ROCK's owner headers, kept as labels (returned by get_status as user_id, experiment_id, namespace). */
export const OWNER_LABELS = {
  user_id: 'rock/user-id',
  experiment_id: 'rock/experiment-id',
  namespace: 'rock/namespace',
} as const;
const OWNER_HEADERS = {
  'x-user-id': OWNER_LABELS.user_id,
  'x-experiment-id': OWNER_LABELS.experiment_id,
  'x-namespace': OWNER_LABELS.namespace,
} as const;

export type HeaderBag = Record<string, string | string[] | undefined>;

/** The ROCK start body and headers as /v1's create input (same parsing, caps and pipeline). */
export function toCreateInput(
  body: unknown,
  headers: HeaderBag,
  allowedRuntimes: readonly string[],
): CreateSandboxInput {
  const start = parseBody(startSchema, body);
  if (start.auto_archive_seconds !== null && start.auto_archive_seconds !== undefined) {
    throw badRequest(
      'invalid parameter: auto_archive_seconds: archiving is not supported by sandboxd; use auto_delete_seconds',
    );
  }
  const input: CreateSandboxInput = { image: start.image };
  if (start.sandbox_id) input.name = start.sandbox_id;
  if (start.cpus !== null && start.cpus !== undefined) input.cpus = start.cpus;
  if (start.memory) input.memory = start.memory;
  if (start.disk) input.disk = start.disk;
  if (start.auto_clear_time_minutes !== null && start.auto_clear_time_minutes !== undefined) {
    input.idleTimeoutSeconds = start.auto_clear_time_minutes * 60;
  }
  if (start.auto_delete_seconds !== null && start.auto_delete_seconds !== undefined) {
    input.autoDeleteSeconds = start.auto_delete_seconds;
  }
  if (start.use_kata_runtime === true) {
    const kata = allowedRuntimes.find((runtime) => /kata/i.test(runtime));
    if (kata === undefined) {
      throw badRequest(
        `invalid parameter: use_kata_runtime: no kata runtime is allowed here (ALLOWED_RUNTIMES: ${allowedRuntimes.join(', ')})`,
      );
    }
    input.runtime = kata;
  }
  const labels = ownerLabels(headers);
  if (Object.keys(labels).length > 0) input.labels = labels;
  return input;
}

function ownerLabels(headers: HeaderBag): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [header, label] of Object.entries(OWNER_HEADERS)) {
    const raw = headers[header];
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (value === undefined || value.length === 0) continue;
    // The store's label rules: whole, and filterable (no control characters).
    // eslint-disable-next-line no-control-regex
    if (value.length > COLUMN_LIMITS.labelValue || /[\u0000-\u001f\u007f]/.test(value)) {
      throw badRequest(
        `invalid parameter: ${header}: at most ${COLUMN_LIMITS.labelValue} characters, no control characters`,
      );
    }
    labels[label] = value;
  }
  return labels;
}
