import { Injectable } from '@nestjs/common';
import { Actor, createActor, Snapshot } from 'xstate';
import { LifecycleConfig } from '@app/config';
import { CodedError, describeError, LIVE_STATES, SandboxInfo, SandboxRecord } from '@app/domain';
import { SandboxMetaStore } from '@app/meta-store';
import { deadlinesOnEntering } from './deadlines';
import { SandboxEffects } from './sandbox-effects';
import {
  MACHINE_VERSION,
  SandboxMachineContext,
  SandboxMachineEvent,
  refusalOf,
  sandboxMachine,
} from './sandbox.machine';
import { MachineSnapshot, viewOf } from './snapshot-view';
import { persistedSnapshotOf } from './snapshot-schema';

type SandboxActor = Actor<typeof sandboxMachine>;

/**
 * Runs one command through the state machine for one sandbox and persists every step. The caller
 * holds the sandbox's lock. The flow: rehydrate the persisted snapshot (which re-runs an effect a
 * crash interrupted), settle it, ask the machine whether the event is legal, send it, persist the
 * busy snapshot (so a crash now is recoverable), wait for the effect, persist the outcome.
 *
 * Nothing here waits forever: every Docker call of an effect has its bound (ENGINE_TIMEOUT past
 * it, which the machine records as the failure reason like any other failed effect), and `signal`
 * (the lock's: it aborts when the lock is lost) aborts the effect's Docker calls and this wait.
 * After a lost lock nothing more is written: the busy snapshot stays for the next holder (the
 * reconciler) to finish, since another holder may already be running.
 */
@Injectable()
export class SandboxDriver {
  constructor(
    private readonly config: LifecycleConfig,
    private readonly store: SandboxMetaStore,
    private readonly effects: SandboxEffects,
  ) {}

  async drive(
    record: SandboxRecord,
    event: SandboxMachineEvent | null,
    signal?: AbortSignal,
  ): Promise<SandboxRecord> {
    signal?.throwIfAborted();
    const provided = this.effects.forRecord(record, signal);
    const { machine } = provided;
    const lastError = (): unknown => provided.lastError();
    const input = { sandboxId: record.info.id, protected: record.info.protected };
    // No snapshot yet means the create has not run its first step: start from the beginning.
    // A snapshot of another machine version would need a migration; there is only version 1 yet.
    if (record.machineSnapshot !== null && record.machineVersion !== MACHINE_VERSION) {
      throw new Error(
        `sandbox ${record.info.id} has machine version ${record.machineVersion}, this build runs ${MACHINE_VERSION}`,
      );
    }
    const snapshot =
      record.machineSnapshot === null ? undefined : withProtection(record.machineSnapshot, record);
    const actor: SandboxActor = createActor(machine, { input, snapshot });
    actor.start();
    try {
      let current = await this.settle(record, actor, signal);
      if (event === null) return current;

      const before = actor.getSnapshot();
      if (!before.can(event)) {
        if (refusalOf(before.context, event) === 'protected') {
          throw new CodedError(
            'SANDBOX_PROTECTED',
            `sandbox ${record.info.id} is protected; unset protected (PATCH) before deleting it`,
            { sandboxId: record.info.id },
          );
        }
        throw new CodedError(
          'INVALID_TRANSITION',
          `cannot ${event.type} sandbox ${record.info.id} in state ${current.info.state}`,
          { sandboxId: record.info.id, state: current.info.state, event: event.type },
        );
      }
      const errorBefore = lastError();
      const persistedBefore = JSON.stringify(actor.getPersistedSnapshot());
      actor.send(event);
      // A no-op (stop of a stopped sandbox) changes nothing and writes nothing.
      const changed = JSON.stringify(actor.getPersistedSnapshot()) !== persistedBefore;
      current = await this.settle(current, actor, signal, changed);
      // The outcome is persisted either way (a failed restart ends in stopped with its reason, a
      // failed stop or delete leaves the state as it was); the caller also gets the cause.
      if (lastError() !== errorBefore) throw lastError();
      return current;
    } finally {
      actor.stop();
    }
  }

  /** Persists the current snapshot; if an effect is in flight, waits for it and persists again. */
  private async settle(
    record: SandboxRecord,
    actor: SandboxActor,
    signal: AbortSignal | undefined,
    forcePersist = false,
  ): Promise<SandboxRecord> {
    let current = record;
    if (actor.getSnapshot().hasTag('busy')) {
      current = await this.persist(current, actor.getSnapshot(), actor);
      await untilIdle(actor, signal);
      return this.persist(current, actor.getSnapshot(), actor);
    }
    return forcePersist ? this.persist(current, actor.getSnapshot(), actor) : current;
  }

  private async persist(
    record: SandboxRecord,
    snapshot: MachineSnapshot,
    actor: SandboxActor,
  ): Promise<SandboxRecord> {
    const view: Partial<SandboxInfo> = viewOf(snapshot);
    // Protection is the machine's: the record's column mirrors it (its guard is the rule).
    view.protected = snapshot.context.protected === true;
    const id = record.info.id;
    const state = view.state ?? record.info.state;
    if (state !== record.info.state) {
      // Entering a public state sets its deadlines (idle stop, auto-delete) from the moment the
      // machine stamped on the transition, so autoDeleteAt - stoppedAt is exactly the delay.
      const stamped = { running: view.startedAt, stopped: view.stoppedAt, deleted: view.deletedAt };
      const at = state === 'pending' ? null : stamped[state];
      const now = at ? new Date(at) : new Date();
      const inputs = { ...record.info, startedAt: view.startedAt ?? record.info.startedAt };
      Object.assign(
        view,
        deadlinesOnEntering(state, inputs, now, this.config.autoDeleteAfterSeconds),
        LIVE_STATES.includes(state) ? { lastActivityAt: now.toISOString() } : {},
      );
    }
    const options = {
      expectedVersion: record.version,
      machineSnapshot: actor.getPersistedSnapshot(),
    };
    const wasLive = LIVE_STATES.includes(record.info.state);
    const isLive = LIVE_STATES.includes(state);
    if (wasLive && !isLive) return this.store.archiveCache(id, view, options);
    const updated = await this.store.update(id, view, options);
    if (!wasLive && isLive) await this.store.restoreCache(id);
    return updated;
  }
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

/**
 * A snapshot persisted before protection lived in the machine has no `protected` in its context:
 * it takes the record's flag, which was the rule's only home then.
 */
function withProtection(persisted: unknown, record: SandboxRecord): Snapshot<unknown> {
  const stored: { context?: Partial<SandboxMachineContext> } = persistedSnapshotOf(
    persisted,
    record.info.id,
  );
  if (stored.context === undefined || typeof stored.context.protected === 'boolean') {
    return persisted as Snapshot<unknown>;
  }
  const upgraded = { ...stored, context: { ...stored.context, protected: record.info.protected } };
  return upgraded as unknown as Snapshot<unknown>;
}
