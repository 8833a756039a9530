/**
 * The sandbox lifecycle as one XState v5 machine: the only place that says what is legal. Pure:
 * it imports nothing but xstate and types of @app/domain, performs no I/O and reads the clock it
 * is given (`createSandboxMachine({ now })`). Side effects are the four named promise actors
 * below, supplied by SandboxEffects with `machine.provide(...)`.
 *
 * Every lifecycle rule lives here:
 * - which commands each state takes (the `on` handlers), with their no-ops: stop of a stopped
 *   sandbox, delete of a deleted one, protect to the value it has;
 * - protection (context): no delete of any kind while set, until a `protect` event clears it;
 * - the runtime rule (a fact): a Kata sandbox loses its disk image on stop and is never restarted;
 * - the ephemeral delete (a fact): a sandbox whose effective autoDeleteSeconds is 0 is deleted as
 *   soon as it enters stopped, unless protected;
 * - which states allow exec, file writes, file reads and activity (tags, see `stateAllows`);
 * - the stable error code of every refusal (`verdictOf`) and of every failed effect
 *   (`lastFailure` in the context, so a crash-recovered failure keeps its code too).
 *
 * Top-level states are the public states. Work in flight is a substate tagged `busy` plus the
 * operation's name (`starting`, `stopping`, `deleting`), so a persisted snapshot always says what
 * was interrupted and restoring it re-runs that (idempotent) actor.
 */
import { assign, fromPromise, getNextSnapshot, setup, Snapshot, SnapshotFrom } from 'xstate';
import type { Actor, ErrorCode, SandboxOperation, SandboxState } from '@app/domain';

export const MACHINE_VERSION = '1';

export type MachineState = SandboxState;
export type MachineOperation = SandboxOperation;

export interface HistoryEntry {
  from: MachineState;
  to: MachineState;
  event: string;
  at: string;
  reason?: string;
  /** Who caused it: the actor of the command that was running when the machine entered `to`. */
  actor?: Actor;
}

export interface LogDirQuotaFacts {
  shared: boolean;
  projectId: number | null;
  reason: string | null;
}

export interface ContainerFacts {
  containerId: string;
  ports: Record<string, number>;
  host: string;
  /** Set by a create: whether the log dir shares the container's disk quota (and why not). */
  logDirQuota?: LogDirQuotaFacts;
}

/**
 * What the record and the configuration say, not the machine's own history: given anew each time
 * the machine is created or restored (`restore`), so a changed record or default is always seen.
 */
export interface SandboxFacts {
  /** The OCI runtime (`runc`, `runsc`, `kata-runtime`, …). */
  runtime: string;
  /** The sandbox's own autoDeleteSeconds, else the global default; 0 is "ephemeral". */
  autoDeleteSeconds: number;
  /**
   * Who runs the command this restore serves: every entry the machine writes under it names them.
   * A fact like the others because it belongs to the moment, not to the sandbox.
   */
  actor: Actor;
}

/** A failed effect's error as JSON: enough to rebuild the coded error the effect threw. */
export interface Failure {
  /** The CodedError's code; null for an error without one (an internal error). */
  code: ErrorCode | null;
  message: string;
  details: Record<string, unknown> | null;
}

export interface SandboxMachineContext {
  sandboxId: string;
  /** The public state last entered: the `from` of the next history entry. */
  state: MachineState;
  containerId: string | null;
  ports: Record<string, number>;
  host: string | null;
  logDirQuota: LogDirQuotaFacts | null;
  startedAt: string | null;
  stoppedAt: string | null;
  deletedAt: string | null;
  failureReason: string | null;
  /** The last failed effect (its code and details); failureReason is its public message. */
  lastFailure: Failure | null;
  /** Why the stop in flight was asked for (`manual`, `idle-timeout`, …). */
  stopReason: string | null;
  /** A delete of a live sandbox (forced) or an ephemeral one: delete once stopped. */
  deleteRequested: boolean;
  /** No delete is legal while set. */
  protected: boolean;
  facts: SandboxFacts;
  stateHistory: HistoryEntry[];
}

export type SandboxMachineEvent =
  | { type: 'stop'; reason?: string }
  | { type: 'restart' }
  | { type: 'delete'; force?: boolean; reason?: string }
  /** Sets or clears protection; legal in every state but deleted. */
  | { type: 'protect'; value: boolean }
  /** The container stopped or vanished behind the service's back (seen by the reconciler). */
  | { type: 'exited'; reason: string };

export const HISTORY_LIMIT = 100;

export interface SandboxMachineInput {
  sandboxId: string;
  protected: boolean;
  facts: SandboxFacts;
}

/**
 * What a state allows, as tags on its state nodes:
 * - `live`: activity counts (keepalive, exec, files) and the sandbox has idle deadlines;
 * - `exec`: commands run and files are written or deleted (a settled, running container);
 * - `read`: files are read (a settled container, running or stopped);
 * - `container-up`: the container should be running now (the reconciler's expectation);
 * - `container-gone`: no container should exist any more.
 */
export type SandboxTag =
  | 'busy'
  | MachineOperation
  | 'live'
  | 'exec'
  | 'read'
  | 'container-up'
  // Stopped and settled: the container is kept and must not run (the reconciler stops one that does).
  | 'container-down'
  | 'container-gone';

/** Whether the context forbids deleting: the machine's guard and its refusal alike. */
export const isProtected = (context: Pick<SandboxMachineContext, 'protected'>): boolean =>
  context.protected;

/**
 * Kata Containers removes the sandbox's disk image on stop, so `docker start` cannot bring it
 * back: a restart is refused before Docker is touched instead of failing cryptically in the agent.
 */
export const restartableOn = (runtime: string): boolean => !/kata/i.test(runtime);

const isEphemeral = (context: SandboxMachineContext): boolean =>
  context.facts.autoDeleteSeconds === 0 && !isProtected(context);

export interface SandboxRef {
  sandboxId: string;
}
export interface ContainerRef extends SandboxRef {
  containerId: string | null;
}

export interface MachineOptions {
  /** The clock every timestamp of the context and the history is read from. */
  now?: () => Date;
}

// Placeholders: a machine used without the service's actors fails loudly instead of doing nothing.
const notProvided = (name: string) => (): Promise<never> =>
  Promise.reject(new Error(`sandbox machine actor "${name}" was not provided`));

/** The JSON of a thrown error: its code and details if it has them (a CodedError). */
export function failureOf(error: unknown): Failure {
  const message =
    error instanceof Error ? error.message : typeof error === 'string' ? error : 'unknown error';
  const fields = typeof error === 'object' && error !== null ? (error as Partial<Failure>) : {};
  const code = typeof fields.code === 'string' ? fields.code : null;
  const details =
    typeof fields.details === 'object' && fields.details !== null
      ? (JSON.parse(JSON.stringify(fields.details)) as Record<string, unknown>)
      : null;
  return { code, message, details };
}

export function createSandboxMachine(options: MachineOptions = {}) {
  const now = options.now ?? (() => new Date());

  /** The context changes of entering public state `to`: the history entry and its timestamp. */
  function entering(
    context: SandboxMachineContext,
    to: MachineState,
    event: string,
    reason?: string | null,
  ): Pick<SandboxMachineContext, 'state' | 'stateHistory'> &
    Partial<Pick<SandboxMachineContext, 'startedAt' | 'stoppedAt' | 'deletedAt'>> {
    const at = now().toISOString();
    const entry: HistoryEntry = { from: context.state, to, event, at, actor: context.facts.actor };
    if (reason) entry.reason = reason;
    return {
      state: to,
      stateHistory: [...context.stateHistory, entry].slice(-HISTORY_LIMIT),
      ...(to === 'running' ? { startedAt: at } : {}),
      ...(to === 'stopped' ? { stoppedAt: at } : {}),
      ...(to === 'deleted' ? { deletedAt: at } : {}),
    };
  }

  /** A create or restart ends the same way: running with the facts, or stopped with why. */
  const startOutcome = {
    onDone: {
      target: '#sandbox.running',
      actions: {
        type: 'started',
        params: ({ event }: { event: { output: ContainerFacts } }) => event.output,
      },
    },
    onError: {
      target: '#sandbox.stopped',
      actions: {
        type: 'startFailed',
        params: ({ event }: { event: { error: unknown } }) => ({ error: event.error }),
      },
    },
  } as const;

  return setup({
    types: {
      context: {} as SandboxMachineContext,
      events: {} as SandboxMachineEvent,
      input: {} as SandboxMachineInput,
      tags: {} as SandboxTag,
    },
    actors: {
      createContainer: fromPromise<ContainerFacts, SandboxRef>(notProvided('createContainer')),
      startContainer: fromPromise<ContainerFacts, ContainerRef>(notProvided('startContainer')),
      stopContainer: fromPromise<void, ContainerRef>(notProvided('stopContainer')),
      removeContainer: fromPromise<void, ContainerRef>(notProvided('removeContainer')),
    },
    guards: {
      forcedAndUnprotected: ({ context, event }) =>
        event.type === 'delete' && event.force === true && !isProtected(context),
      unprotected: ({ context }) => !isProtected(context),
      restartable: ({ context }) => restartableOn(context.facts.runtime),
      deleteRequested: ({ context }) => context.deleteRequested && !isProtected(context),
      ephemeral: ({ context }) => isEphemeral(context),
    },
    actions: {
      /** Appends to the history and stamps the time of entering `to`. Only non-self transitions. */
      record: assign(
        ({ context }, params: { to: MachineState; event: string; reason?: string | null }) =>
          entering(context, params.to, params.event, params.reason),
      ),
      /** A create or restart that finished: keep the container's facts, enter running. */
      started: assign(({ context }, facts: ContainerFacts) => ({
        containerId: facts.containerId,
        ports: facts.ports,
        host: facts.host,
        logDirQuota: facts.logDirQuota ?? context.logDirQuota,
        ...entering(context, 'running', 'started'),
      })),
      /** A create or restart that failed: keep why, enter stopped. */
      startFailed: assign(({ context }, params: { error: unknown }) => {
        const failure = failureOf(params.error);
        return {
          failureReason: failure.message,
          lastFailure: failure,
          ...entering(context, 'stopped', 'startFailed', failure.message),
        };
      }),
      fail: assign((_, params: { error: unknown }) => {
        const failure = failureOf(params.error);
        return { failureReason: failure.message, lastFailure: failure };
      }),
      exited: assign(({ context }, params: { reason: string }) => ({
        failureReason: params.reason,
        ...entering(context, 'stopped', 'exited', params.reason),
      })),
      clearFailure: assign({ failureReason: null }),
      /** A legal command that changes nothing (XState counts a transition without actions as none). */
      acknowledge: () => undefined,
      noteStop: assign({
        stopReason: ({ event }) =>
          event.type === 'stop' || event.type === 'delete' ? (event.reason ?? 'manual') : null,
        deleteRequested: ({ event }) => event.type === 'delete',
      }),
      noteDelete: assign({
        deleteRequested: true,
        stopReason: ({ event }) => (event.type === 'delete' ? (event.reason ?? 'manual') : null),
      }),
      noteEphemeral: assign({ deleteRequested: true, stopReason: 'auto-delete' }),
      clearRequests: assign({ stopReason: null, deleteRequested: false }),
      protect: assign({
        protected: ({ context, event }) =>
          event.type === 'protect' ? event.value : isProtected(context),
      }),
    },
  }).createMachine({
    id: 'sandbox',
    initial: 'pending',
    context: ({ input }) => ({
      sandboxId: input.sandboxId,
      state: 'pending',
      containerId: null,
      ports: {},
      host: null,
      logDirQuota: null,
      startedAt: null,
      stoppedAt: null,
      deletedAt: null,
      failureReason: null,
      lastFailure: null,
      stopReason: null,
      deleteRequested: false,
      protected: input.protected,
      facts: input.facts,
      stateHistory: [],
    }),
    states: {
      // Protection can change in every state but deleted (no handler there: refused).
      pending: {
        initial: 'creating',
        tags: ['live'],
        on: { protect: { actions: 'protect' } },
        states: {
          creating: {
            tags: ['busy', 'starting'],
            invoke: {
              src: 'createContainer',
              input: ({ context }) => ({ sandboxId: context.sandboxId }),
              ...startOutcome,
            },
          },
          restarting: {
            tags: ['busy', 'starting'],
            invoke: {
              src: 'startContainer',
              input: ({ context }) => ({
                sandboxId: context.sandboxId,
                containerId: context.containerId,
              }),
              ...startOutcome,
            },
          },
        },
      },
      running: {
        initial: 'idle',
        tags: ['live'],
        on: { protect: { actions: 'protect' } },
        states: {
          idle: {
            tags: ['exec', 'read', 'container-up'],
            on: {
              stop: { target: 'stopping', actions: 'noteStop' },
              delete: { guard: 'forcedAndUnprotected', target: 'stopping', actions: 'noteStop' },
              // Nothing to stop: the container is already down. Record why it went.
              exited: {
                target: '#sandbox.stopped',
                actions: { type: 'exited', params: ({ event }) => ({ reason: event.reason }) },
              },
            },
          },
          stopping: {
            tags: ['busy', 'stopping'],
            invoke: {
              src: 'stopContainer',
              input: ({ context }) => ({
                sandboxId: context.sandboxId,
                containerId: context.containerId,
              }),
              onDone: {
                target: '#sandbox.stopped',
                actions: {
                  type: 'record',
                  params: ({ context }) => ({
                    to: 'stopped',
                    event: context.deleteRequested ? 'delete' : 'stop',
                    reason: context.stopReason,
                  }),
                },
              },
              // The container may still run: stay running and let the caller see the error.
              onError: {
                target: 'idle',
                actions: [
                  { type: 'fail', params: ({ event }) => ({ error: event.error }) },
                  'clearRequests',
                ],
              },
            },
          },
        },
      },
      stopped: {
        initial: 'entered',
        on: { protect: { actions: 'protect' } },
        states: {
          // Passed through on every way into stopped (never rests here): a requested delete, or
          // the ephemeral one, follows at once. A `protect` event does not pass through it, so
          // unprotecting a stopped sandbox leaves it to its auto-delete deadline.
          entered: {
            always: [
              { guard: 'deleteRequested', target: 'deleting' },
              { guard: 'ephemeral', target: 'deleting', actions: 'noteEphemeral' },
              { target: 'idle', actions: 'clearRequests' },
            ],
          },
          idle: {
            tags: ['read', 'container-down'],
            on: {
              // Stopping a stopped sandbox is a no-op: allowed, no history, no side effect.
              stop: { actions: 'acknowledge' },
              restart: {
                guard: 'restartable',
                target: '#sandbox.pending.restarting',
                actions: [
                  'clearFailure',
                  { type: 'record', params: { to: 'pending', event: 'restart' } },
                ],
              },
              delete: { guard: 'unprotected', target: 'deleting', actions: 'noteDelete' },
            },
          },
          deleting: {
            tags: ['busy', 'deleting'],
            invoke: {
              src: 'removeContainer',
              input: ({ context }) => ({
                sandboxId: context.sandboxId,
                containerId: context.containerId,
              }),
              onDone: {
                target: '#sandbox.deleted',
                actions: [
                  {
                    type: 'record',
                    params: ({ context }) => ({
                      to: 'deleted',
                      event: 'delete',
                      reason: context.stopReason,
                    }),
                  },
                  'clearRequests',
                ],
              },
              // Straight to idle, not through `entered`: a failed delete is not retried by itself.
              onError: {
                target: 'idle',
                actions: [
                  { type: 'fail', params: ({ event }) => ({ error: event.error }) },
                  'clearRequests',
                ],
              },
            },
          },
        },
      },
      // Not final: a delete of a deleted sandbox is an idempotent no-op; nothing else is taken.
      deleted: {
        tags: ['container-gone'],
        on: { delete: { actions: 'acknowledge' } },
      },
    },
  });
}

/** The machine on the real clock. */
export const sandboxMachine = createSandboxMachine();

export type SandboxMachine = ReturnType<typeof createSandboxMachine>;
export type SandboxSnapshot = SnapshotFrom<SandboxMachine>;

/**
 * A persisted snapshot, ready for `createActor(machine, { snapshot })`, with this moment's facts.
 * A snapshot persisted while `deleted` was a final state says status `done`: it is active now.
 */
export function restore(persisted: unknown, facts: SandboxFacts): Snapshot<unknown> {
  const stored = persisted as { status?: string; context: SandboxMachineContext };
  const status = stored.status === 'done' ? 'active' : stored.status;
  const restored = { ...stored, status, context: { ...stored.context, facts } };
  return restored as unknown as Snapshot<unknown>;
}

export type RefusalCode =
  'SANDBOX_PROTECTED' | 'RESTART_UNSUPPORTED' | 'INVALID_TRANSITION' | 'SANDBOX_NOT_RUNNING';

export type Verdict =
  | { verdict: 'accepted' }
  /** Legal, and changes nothing: nothing to persist or run. */
  | { verdict: 'no-op' }
  | {
      verdict: 'refused';
      code: RefusalCode;
      message: string;
      details: Record<string, unknown>;
    };

/** The public state and the operation in flight of a snapshot (its top-level state, its tags). */
export function viewOfSnapshot(snapshot: SandboxSnapshot): StateView {
  const value = snapshot.value;
  const state = (typeof value === 'string' ? value : Object.keys(value)[0]) as MachineState;
  const operation = OPERATIONS.find((op) => snapshot.hasTag(op)) ?? null;
  return { state, operation };
}

const OPERATIONS: readonly MachineOperation[] = ['starting', 'stopping', 'deleting'];

/**
 * Whether the machine takes `event` now, and if not, the stable code and message of the refusal.
 * A busy snapshot refuses everything but protection (work is in flight).
 */
export function verdictOf(snapshot: SandboxSnapshot, event: SandboxMachineEvent): Verdict {
  const { context } = snapshot;
  if (snapshot.can(event)) {
    const next = getNextSnapshot(snapshot.machine, snapshot, event);
    const same =
      JSON.stringify(next.value) === JSON.stringify(snapshot.value) &&
      JSON.stringify(next.context) === JSON.stringify(context);
    return same ? { verdict: 'no-op' } : { verdict: 'accepted' };
  }
  const id = context.sandboxId;
  const { state } = viewOfSnapshot(snapshot);
  if (event.type === 'delete' && isProtected(context)) {
    return refused(
      'SANDBOX_PROTECTED',
      `sandbox ${id} is protected; unset protected (PATCH) before deleting it`,
      { sandboxId: id },
    );
  }
  if (event.type === 'restart' && !restartableOn(context.facts.runtime)) {
    const { runtime } = context.facts;
    return refused(
      'RESTART_UNSUPPORTED',
      `sandbox ${id} runs on ${runtime}, whose disk image is removed on stop; it cannot be restarted`,
      { sandboxId: id, runtime },
    );
  }
  return refused('INVALID_TRANSITION', `cannot ${event.type} sandbox ${id} in state ${state}`, {
    sandboxId: id,
    state,
    event: event.type,
  });
}

function refused(code: RefusalCode, message: string, details: Record<string, unknown>): Verdict {
  return { verdict: 'refused', code, message, details };
}

/** A sandbox's public state and operation in flight, as SandboxInfo carries them. */
export interface StateView {
  state: MachineState;
  operation: MachineOperation | null;
}

/** What work on a sandbox asks for: each is a tag of the states that allow it. */
export type Capability = 'exec' | 'writeFiles' | 'deleteFiles' | 'readFiles' | 'keepAlive';

const CAPABILITY_TAGS: Readonly<Record<Capability, SandboxTag>> = {
  exec: 'exec',
  writeFiles: 'exec',
  deleteFiles: 'exec',
  readFiles: 'read',
  keepAlive: 'live',
};

const CAPABILITY_VERBS: Readonly<Record<Exclude<Capability, 'keepAlive'>, string>> = {
  exec: 'run commands in',
  writeFiles: 'write files to',
  deleteFiles: 'delete files in',
  readFiles: 'read files from',
};

/** Whether a sandbox in this state allows the work, and if not, the refusal. */
export function capabilityVerdict(
  view: StateView & { id: string },
  capability: Capability,
): Verdict {
  return stateAllows(view, capability)
    ? { verdict: 'accepted' }
    : capabilityRefusal(view, capability);
}

/** SANDBOX_NOT_RUNNING for the work, saying the state (and the operation in flight). */
export function capabilityRefusal(
  view: StateView & { id: string },
  capability: Capability,
): Verdict & { verdict: 'refused' } {
  const details = { sandboxId: view.id, state: view.state };
  if (capability === 'keepAlive') {
    const message = `sandbox ${view.id} is ${view.state}; only a pending or running sandbox can be kept alive`;
    return { verdict: 'refused', code: 'SANDBOX_NOT_RUNNING', message, details };
  }
  const state = view.operation ? `${view.state} (${view.operation})` : view.state;
  const message = `cannot ${CAPABILITY_VERBS[capability]} sandbox ${view.id}: it is ${state}`;
  return { verdict: 'refused', code: 'SANDBOX_NOT_RUNNING', message, details };
}

const tagCache = new Map<string, ReadonlySet<string>>();

/**
 * The tags of the state node a (state, operation) view names, read from the machine definition
 * (with those of its parents): no snapshot is loaded and no actor created, so this is cheap
 * enough for every exec. A settled view names its state's `idle` node (or the state itself), a
 * busy view the node tagged with its operation.
 */
export function tagsOf(view: StateView): ReadonlySet<string> {
  const key = `${view.state}/${view.operation ?? ''}`;
  let tags = tagCache.get(key);
  if (tags === undefined) {
    const top = sandboxMachine.root.states[view.state];
    const children = top ? Object.values(top.states) : [];
    const node =
      children.length === 0
        ? top
        : view.operation === null
          ? top.states.idle
          : children.find((child) => child.tags.includes(view.operation!));
    const found = new Set<string>();
    for (let n = node; n; n = n.parent) n.tags.forEach((tag) => found.add(tag));
    tags = found;
    tagCache.set(key, tags);
  }
  return tags;
}

export function stateHasTag(view: StateView, tag: SandboxTag): boolean {
  return tagsOf(view).has(tag);
}

/** Whether a sandbox in this state allows the work; see SandboxWorkService for the refusal. */
export function stateAllows(view: StateView, capability: Capability): boolean {
  return stateHasTag(view, CAPABILITY_TAGS[capability]);
}
