import { CodedError, SANDBOX_STATES } from '@app/domain';
import { z } from 'zod';

/**
 * What a machine snapshot read from the database must look like before XState restores an actor
 * from it. XState trusts a persisted snapshot completely (a wrong `value` or a context without
 * `stateHistory` fails deep inside a transition, or worse, runs), so it is checked here, with zod
 * like the stored info and spec (see libs/meta-store/src/stored-sandbox-schema.ts for the choice).
 *
 * Only what the machine and the view read is declared; XState's own keys (historyValue, children,
 * …) and context keys the machine may add later pass through unchanged (loose objects), so the
 * persisted snapshot is restored exactly as it was written. BackfillStoredBlobs and
 * BackfillMachineFailure wrote `protected` and `lastFailure` into every older snapshot; `facts`
 * are not read from it at all (`restore` gives the machine this moment's).
 */
const state = z.enum(SANDBOX_STATES);

const contextSchema = z.looseObject({
  sandboxId: z.string(),
  state,
  containerId: z.string().nullable(),
  ports: z.record(z.string(), z.number()),
  host: z.string().nullable(),
  logDirQuota: z
    .object({
      shared: z.boolean(),
      projectId: z.number().nullable(),
      reason: z.string().nullable(),
    })
    .nullable(),
  startedAt: z.string().nullable(),
  stoppedAt: z.string().nullable(),
  deletedAt: z.string().nullable(),
  failureReason: z.string().nullable(),
  stopReason: z.string().nullable(),
  deleteRequested: z.boolean(),
  lastFailure: z
    .object({
      code: z.string().nullable(),
      message: z.string(),
      details: z.record(z.string(), z.unknown()).nullable(),
    })
    .nullable(),
  protected: z.boolean(),
  stateHistory: z.array(
    z.looseObject({ from: state, to: state, event: z.string(), at: z.string() }),
  ),
});

/** A public state, or a public state with its sub-state (`{ pending: 'creating' }`). */
const valueSchema = z.union([
  state,
  z
    .record(z.string(), z.unknown())
    .refine((value) => state.safeParse(Object.keys(value)[0]).success, {
      message: 'must name a public state',
    }),
]);

export const persistedSnapshotSchema = z.looseObject({
  status: z.enum(['active', 'done', 'error', 'stopped']),
  value: valueSchema,
  context: contextSchema,
});

export type PersistedMachineSnapshot = z.infer<typeof persistedSnapshotSchema>;

/** The persisted snapshot of `sandboxId`, checked; RECORD_CORRUPT when it is not one. */
export function persistedSnapshotOf(
  persisted: unknown,
  sandboxId: string,
): PersistedMachineSnapshot {
  const result = persistedSnapshotSchema.safeParse(persisted);
  if (result.success) return result.data;
  const problem = result.error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(root)'} ${issue.message}`)
    .join('; ');
  throw new CodedError(
    'RECORD_CORRUPT',
    `The stored machine snapshot of sandbox ${sandboxId} is unreadable: ${problem}`,
    { sandboxId },
  );
}

/** The public state a snapshot value names (its top-level state). */
export function publicStateOfValue(value: unknown): z.infer<typeof state> {
  const top = typeof value === 'object' && value !== null ? Object.keys(value)[0] : value;
  return state.parse(top);
}
