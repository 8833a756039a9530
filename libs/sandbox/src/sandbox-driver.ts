import { Injectable } from '@nestjs/common';
import { Actor as MachineActor, createActor } from 'xstate';
import { LifecycleConfig } from '@app/config';
import {
  Actor,
  CodedError,
  describeError,
  SandboxEventRecord,
  SandboxInfo,
  SandboxRecord,
  SandboxState,
  SYSTEM_ACTOR,
} from '@app/domain';
import { SandboxMetaStore } from '@app/meta-store';
import { deadlinesOnEntering, effectiveAutoDeleteSeconds } from './deadlines';
import { CommittedChange, eventsOfChange } from './lifecycle-events';
import { SandboxEffects } from './sandbox-effects';
import {
  Failure,
  HistoryEntry,
  MACHINE_VERSION,
  SandboxFacts,
  SandboxMachine,
  SandboxMachineEvent,
  SandboxSnapshot,
  restore,
  stateHasTag,
} from './sandbox.machine';
import { viewOf } from './snapshot-view';
import { persistedSnapshotOf } from './snapshot-schema';

type SandboxActor = MachineActor<SandboxMachine>;

/**
 * Runs the state machine of one sandbox for SandboxCommands, which holds the sandbox's lock and
 * has asked the machine whether the event is legal (`verdictOf`). `open` restores the persisted
 * snapshot with this moment's facts (which re-runs an effect a crash interrupted); `send` sends
 * the event, persists the busy snapshot (so a crash now is recoverable), waits for the effect and
 * persists the outcome.
 *
 * Nothing here waits forever: every Docker call of an effect has its bound (ENGINE_TIMEOUT past
 * it, which the machine records as the failure like any other failed effect), and `signal` (the
 * lock's: it aborts when the lock is lost) aborts the effect's Docker calls and this wait. After a
 * lost lock nothing more is written: the busy snapshot stays for the next holder (the reconciler)
 * to finish, since another holder may already be running.
 */
@Injectable()
export class SandboxDriver {
  constructor(
    private readonly config: LifecycleConfig,
    private readonly store: SandboxMetaStore,
    private readonly effects: SandboxEffects,
  ) {}

  /**
   * What the record, the configuration and the command's actor tell the machine, each time it is
   * restored.
   */
  factsOf(info: SandboxInfo, actor: Actor = SYSTEM_ACTOR): SandboxFacts {
    return {
      runtime: info.runtime,
      autoDeleteSeconds: effectiveAutoDeleteSeconds(info, this.config.autoDeleteAfterSeconds),
      actor,
    };
  }

  /**
   * The record's machine, restored and started (an interrupted effect runs again). `actor` is who
   * the command is for; the history entries it writes name them.
   */
  open(record: SandboxRecord, signal?: AbortSignal, actor: Actor = SYSTEM_ACTOR): MachineRun {
    signal?.throwIfAborted();
    const machine = this.effects.forRecord(record, signal);
    const facts = this.factsOf(record.info, actor);
    // No snapshot yet means the create has not run its first step: start from the beginning.
    // A snapshot of another machine version would need a migration; there is only version 1 yet.
    if (record.machineSnapshot !== null && record.machineVersion !== MACHINE_VERSION) {
      throw new Error(
        `sandbox ${record.info.id} has machine version ${record.machineVersion}, this build runs ${MACHINE_VERSION}`,
      );
    }
    const snapshot =
      record.machineSnapshot === null
        ? undefined
        : restore(persistedSnapshotOf(record.machineSnapshot, record.info.id), facts);
    const input = { sandboxId: record.info.id, protected: record.info.protected, facts };
    const running: SandboxActor = createActor(machine, { input, snapshot });
    running.start();
    return new MachineRun(record, running, signal, (current, snap, write) =>
      this.persist(current, snap, running, write),
    );
  }

  private async persist(
    record: SandboxRecord,
    snapshot: SandboxSnapshot,
    actor: SandboxActor,
    write: RunWrite,
  ): Promise<SandboxRecord> {
    const view: Partial<SandboxInfo> = viewOf(snapshot);
    // Protection is the machine's: the record's column mirrors it (its guard is the rule).
    view.protected = snapshot.context.protected;
    const id = record.info.id;
    const before = { state: record.info.state, operation: record.info.operation };
    const after = { state: view.state ?? before.state, operation: view.operation ?? null };
    if (after.state !== before.state) {
      // Entering a public state sets its deadlines (idle stop, auto-delete) from the moment the
      // machine stamped on the transition, so autoDeleteAt - stoppedAt is exactly the delay.
      const stamped: Record<SandboxState, string | null | undefined> = {
        pending: null,
        running: view.startedAt,
        stopped: view.stoppedAt,
        deleted: view.deletedAt,
      };
      const at = stamped[after.state];
      const now = at ? new Date(at) : new Date();
      const inputs = { ...record.info, startedAt: view.startedAt ?? record.info.startedAt };
      Object.assign(
        view,
        deadlinesOnEntering(after.state, inputs, now, this.config.autoDeleteAfterSeconds),
        stateHasTag(after, 'live') ? { lastActivityAt: now.toISOString() } : {},
      );
    }
    const options = {
      expectedVersion: record.version,
      machineSnapshot: actor.getPersistedSnapshot(),
      current: record,
      // The outbox: the write's events land in its transaction, with the info it writes.
      events: (info: SandboxInfo) => eventsOfChange(write.change, info),
      onCommitted: write.onCommitted,
    };
    // Live sandboxes sit in the hot cache; the store moves a record out of it and back.
    const wasLive = stateHasTag(before, 'live');
    const isLive = stateHasTag(after, 'live');
    if (wasLive && !isLive) return this.store.archiveCache(id, view, options);
    const updated = await this.store.update(id, view, options);
    if (!wasLive && isLive) await this.store.restoreCache(id);
    return updated;
  }
}

/** What one persist of a run commits besides the row, and where its committed events go. */
interface RunWrite {
  change: CommittedChange;
  onCommitted: (events: readonly SandboxEventRecord[]) => void;
}

/**
 * One restored machine under one lock. `committed` collects the events of the log as the writes
 * that hold them commit, for SandboxCommands to publish.
 */
export class MachineRun {
  readonly committed: SandboxEventRecord[] = [];
  private persistedHistory: HistoryEntry[];

  constructor(
    private current: SandboxRecord,
    private readonly actor: SandboxActor,
    private readonly signal: AbortSignal | undefined,
    private readonly write: (
      record: SandboxRecord,
      snapshot: SandboxSnapshot,
      write: RunWrite,
    ) => Promise<SandboxRecord>,
  ) {
    this.persistedHistory = actor.getSnapshot().context.stateHistory;
  }

  get record(): SandboxRecord {
    return this.current;
  }

  get snapshot(): SandboxSnapshot {
    return this.actor.getSnapshot();
  }

  /**
   * Finishes the effect a restored snapshot was busy with (a crash interrupted it, or this is a
   * create's first step) and persists it; false when nothing was in flight.
   */
  async finishInterrupted(): Promise<boolean> {
    if (!this.snapshot.hasTag('busy')) return false;
    await this.settle();
    return true;
  }

  /**
   * Sends an event the machine accepts and waits for its effect. The outcome is persisted either
   * way (a failed restart ends in stopped with its reason, a failed stop or delete leaves the
   * state as it was); then the failed effect's coded error is thrown, rebuilt from the machine.
   */
  async send(event: SandboxMachineEvent): Promise<void> {
    const failureBefore = this.snapshot.context.lastFailure;
    this.actor.send(event);
    await this.settle(true);
    const failure = this.snapshot.context.lastFailure;
    if (failure !== null && failure !== failureBefore) throw errorOf(failure);
  }

  stop(): void {
    this.actor.stop();
  }

  /** Persists the current snapshot; if an effect is in flight, waits for it and persists again. */
  private async settle(forcePersist = false): Promise<void> {
    if (this.snapshot.hasTag('busy')) {
      await this.persist();
      await untilIdle(this.actor, this.signal);
      await this.persist();
    } else if (forcePersist) {
      await this.persist();
    }
  }

  private async persist(): Promise<void> {
    const snapshot = this.snapshot;
    const { context } = snapshot;
    const history = context.stateHistory;
    const last = this.persistedHistory.at(-1);
    const from = last === undefined ? 0 : history.lastIndexOf(last) + 1;
    // Protection has no history entry (it is not a state); its change is an event all the same.
    const protection =
      context.protected === this.current.info.protected
        ? null
        : { actor: context.facts.actor, at: new Date().toISOString() };
    const change: CommittedChange = { entries: history.slice(from), protection };
    this.current = await this.write(this.current, snapshot, {
      change,
      onCommitted: (events) => this.committed.push(...events),
    });
    this.persistedHistory = history;
  }
}

/** The error a failed effect threw, from what the machine kept of it. */
function errorOf(failure: Failure): Error {
  return failure.code === null
    ? new Error(failure.message)
    : new CodedError(failure.code, failure.message, failure.details ?? undefined);
}

/**
 * Resolves once the effect in flight has ended (the machine left its busy state). Rejects with the
 * lock's reason as soon as the lock is lost; the caller then stops the actor, which aborts the
 * effect's own signal too. No timeout of its own: the effects' Docker calls carry the bounds.
 */
function untilIdle(actor: SandboxActor, signal: AbortSignal | undefined): Promise<void> {
  if (!actor.getSnapshot().hasTag('busy')) return Promise.resolve();
  if (signal?.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<void>((resolve, reject) => {
    const done = (error?: unknown): void => {
      subscription.unsubscribe();
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) resolve();
      else reject(error instanceof Error ? error : new Error(describeError(error)));
    };
    const onAbort = (): void => done(signal?.reason ?? new Error('aborted'));
    const subscription = actor.subscribe({
      next: (snapshot) => {
        if (!snapshot.hasTag('busy')) done();
      },
      error: (error) => done(error ?? new Error('the sandbox machine failed')),
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
