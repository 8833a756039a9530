/**
 * The sandbox lifecycle as one XState v5 machine: the only place that says which transitions are
 * legal. Pure: it imports nothing but xstate and performs no I/O. Side effects are the four named
 * promise actors below, supplied by SandboxService with `machine.provide(...)`.
 *
 * Protection is part of the context: no delete of a protected sandbox is legal, whoever asks for
 * it (a plain or forced DELETE, auto-delete, the ephemeral delete after a stop), until a
 * `protect` event clears it. The service reads the refusal from the machine (`refusalOf`).
 *
 * Top-level states are the public states. Work in flight is a substate tagged `busy` plus the
 * operation's name (`starting`, `stopping`, `deleting`), so a persisted snapshot always says what
 * was interrupted and restoring it re-runs that (idempotent) actor.
 */
import { assign, fromPromise, setup } from 'xstate';

export const MACHINE_VERSION = '1';

export type MachineState = 'pending' | 'running' | 'stopped' | 'deleted';
export type MachineOperation = 'starting' | 'stopping' | 'deleting';

export interface HistoryEntry {
  from: MachineState;
  to: MachineState;
  event: string;
  at: string;
  reason?: string;
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
  /** Why the stop in flight was asked for (`manual`, later `idle-timeout`, …). */
  stopReason: string | null;
  /** A forced delete of a live sandbox: stop first, then delete. */
  deleteRequested: boolean;
  /** No delete is legal while set (snapshots persisted before the field existed lack it). */
  protected?: boolean;
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
  protected?: boolean;
}

/** Whether the context forbids deleting: the machine's guard and the service's refusal alike. */
export const isProtected = (context: Pick<SandboxMachineContext, 'protected'>): boolean =>
  context.protected === true;

/**
 * Why the machine refuses `event` in a state where it is otherwise known, for a coded answer:
 * `protected` for any delete of a protected sandbox, else null (the caller says the transition is
 * not legal from the state).
 */
export function refusalOf(
  context: Pick<SandboxMachineContext, 'protected'>,
  event: SandboxMachineEvent,
): 'protected' | null {
  return event.type === 'delete' && isProtected(context) ? 'protected' : null;
}

export interface SandboxRef {
  sandboxId: string;
}
export interface ContainerRef extends SandboxRef {
  containerId: string | null;
}

// Placeholders: a machine used without the service's actors fails loudly instead of doing nothing.
const notProvided = (name: string) => (): Promise<never> =>
  Promise.reject(new Error(`sandbox machine actor "${name}" was not provided`));

const errorMessage = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === 'string' ? error : 'unknown error';

/** The context changes of entering public state `to`: the history entry and its timestamp. */
function entering(
  context: SandboxMachineContext,
  to: MachineState,
  event: string,
  reason?: string | null,
): Pick<SandboxMachineContext, 'state' | 'stateHistory'> &
  Partial<Pick<SandboxMachineContext, 'startedAt' | 'stoppedAt' | 'deletedAt'>> {
  const at = new Date().toISOString();
  const entry: HistoryEntry = { from: context.state, to, event, at };
  if (reason) entry.reason = reason;
  return {
    state: to,
    stateHistory: [...context.stateHistory, entry].slice(-HISTORY_LIMIT),
    ...(to === 'running' ? { startedAt: at } : {}),
    ...(to === 'stopped' ? { stoppedAt: at } : {}),
    ...(to === 'deleted' ? { deletedAt: at } : {}),
  };
}

export const sandboxMachine = setup({
  types: {
    context: {} as SandboxMachineContext,
    events: {} as SandboxMachineEvent,
    input: {} as SandboxMachineInput,
    tags: {} as 'busy' | MachineOperation,
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
    // A delete requested before protection was set (a snapshot of an older build) stops there.
    deleteRequested: ({ context }) => context.deleteRequested && !isProtected(context),
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
      const reason = errorMessage(params.error);
      return { failureReason: reason, ...entering(context, 'stopped', 'startFailed', reason) };
    }),
    fail: assign((_, params: { error: unknown }) => ({
      failureReason: errorMessage(params.error),
    })),
    clearFailure: assign({ failureReason: null }),
    noteStop: assign({
      stopReason: ({ event }) =>
        event.type === 'stop' || event.type === 'delete' ? (event.reason ?? 'manual') : null,
      deleteRequested: ({ event }) => event.type === 'delete',
    }),
    noteDelete: assign({
      deleteRequested: true,
      stopReason: ({ event }) => (event.type === 'delete' ? (event.reason ?? 'manual') : null),
    }),
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
    stopReason: null,
    deleteRequested: false,
    protected: input.protected === true,
    stateHistory: [],
  }),
  states: {
    // Protection can change in every state but deleted (no handler there: `can` says no).
    pending: {
      initial: 'creating',
      on: { protect: { actions: 'protect' } },
      states: {
        creating: {
          tags: ['busy', 'starting'],
          invoke: {
            src: 'createContainer',
            input: ({ context }) => ({ sandboxId: context.sandboxId }),
            onDone: {
              target: '#sandbox.running',
              actions: { type: 'started', params: ({ event }) => event.output },
            },
            onError: {
              target: '#sandbox.stopped',
              actions: { type: 'startFailed', params: ({ event }) => ({ error: event.error }) },
            },
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
            onDone: {
              target: '#sandbox.running',
              actions: { type: 'started', params: ({ event }) => event.output },
            },
            onError: {
              target: '#sandbox.stopped',
              actions: { type: 'startFailed', params: ({ event }) => ({ error: event.error }) },
            },
          },
        },
      },
    },
    running: {
      initial: 'idle',
      on: { protect: { actions: 'protect' } },
      states: {
        idle: {
          on: {
            stop: { target: 'stopping', actions: 'noteStop' },
            delete: { guard: 'forcedAndUnprotected', target: 'stopping', actions: 'noteStop' },
            // Nothing to stop: the container is already down. Record why it went.
            exited: {
              target: '#sandbox.stopped',
              actions: [
                { type: 'fail', params: ({ event }) => ({ error: event.reason }) },
                {
                  type: 'record',
                  params: ({ event }) => ({ to: 'stopped', event: 'exited', reason: event.reason }),
                },
              ],
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
      initial: 'idle',
      on: { protect: { actions: 'protect' } },
      states: {
        idle: {
          always: { guard: 'deleteRequested', target: 'deleting' },
          on: {
            // Stopping a stopped sandbox is a no-op: allowed, no history, no side effect.
            stop: { target: 'idle' },
            restart: {
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
    deleted: { type: 'final' },
  },
});

export type SandboxMachine = typeof sandboxMachine;
