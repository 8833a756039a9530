import { Injectable } from '@nestjs/common';
import {
  Actor,
  CodedError,
  SandboxEventRecord,
  SandboxRecord,
  actorSees,
  scopeTenantOf,
} from '@app/domain';
import { SandboxLock, SandboxMetaStore } from '@app/meta-store';
import { autoStopAt } from './deadlines';
import { SandboxDriver } from './sandbox-driver';
import { SandboxEvents } from './sandbox-events';
import { SandboxOwnership } from './sandbox-ownership';
import { capabilityVerdict, SandboxMachineEvent, verdictOf } from './sandbox.machine';

/**
 * An event that needs a look at the world under the lock (the reconciler inspects the container
 * to say why it exited). `probe` is asked of the machine first, so the look is spent only when an
 * event of that kind is legal now.
 */
export interface EventBuilder {
  probe: SandboxMachineEvent;
  build(record: SandboxRecord, signal: AbortSignal): Promise<SandboxMachineEvent | null>;
}

/** What makes a command count as activity: the idle deadline moves out. */
export interface ActivityOptions {
  /** A sandbox that is not live is refused (SANDBOX_NOT_RUNNING) instead of skipped. */
  required?: boolean;
  /** A move of the deadline by less than this is not written (best-effort activity). */
  minMoveMs?: number;
  /**
   * A new max lifetime, counted from the sandbox's start like the one it was created with (E2B's
   * setTimeout); written with the deadline it gives.
   */
  maxLifetimeSeconds?: number;
}

export interface SandboxCommand {
  sandboxId: string;
  /**
   * Who the command is for: an API key's actor, or SYSTEM_ACTOR for sandboxd's own work. Every
   * history entry and event it produces names them, and the record is loaded only if they may
   * see it (another tenant's sandbox is no sandbox at all: SANDBOX_NOT_FOUND). Required, so no
   * trigger can forget to say.
   */
  actor: Actor;
  /** `wait` queues behind the holder (API calls); `try` answers `busy` at once (background work). */
  lock: 'wait' | 'try';
  /**
   * What the machine is asked. null: nothing but finishing the operation a crash interrupted (or
   * a create's first step). Absent: the command is only activity.
   */
  event?: SandboxMachineEvent | EventBuilder | null;
  /** After the event: counts as activity. */
  activity?: ActivityOptions;
  /**
   * `throw` (the API's): a refusal or a missing sandbox is a CodedError. `skip` (a trigger's, the default): it
   * is a `skipped` outcome, saying why.
   */
  refusals?: 'throw' | 'skip';
  /**
   * The trigger's own condition, checked on the record loaded under the lock (a deadline still
   * due): why the command no longer applies, or null. Never a state comparison: the machine says
   * what each state takes.
   */
  unless?: (record: SandboxRecord) => string | null;
  /** Where the record comes from instead of the store: a create inserts it under the lock. */
  load?: () => Promise<SandboxRecord | null>;
  /**
   * Cluster mode: the command may run on another instance's sandbox (node loss, whose event has
   * no effect on any engine). Every other command runs only where the container is.
   */
  foreign?: 'allowed';
}

export type CommandOutcome =
  | { outcome: 'done'; record: SandboxRecord }
  | { outcome: 'skipped'; why: string; record: SandboxRecord | null }
  | { outcome: 'busy' };

/** The outcome of a command whose sandbox was loaded: there is a record either way. */
type LoadedOutcome =
  | { outcome: 'done'; record: SandboxRecord }
  | { outcome: 'skipped'; why: string; record: SandboxRecord };

/**
 * The one pipeline every command on a sandbox goes through, whoever triggers it (HTTP, a deadline
 * scan, a Docker event, the reconciler, recovery at boot): lock → load → ask the machine →
 * persist busy → run the effect → persist the outcome → publish the committed transitions. The
 * triggers only build the command. Which commands are legal, what a refusal says and what follows
 * a stop all live in sandbox.machine.ts.
 */
@Injectable()
export class SandboxCommands {
  constructor(
    private readonly store: SandboxMetaStore,
    private readonly lock: SandboxLock,
    private readonly driver: SandboxDriver,
    private readonly events: SandboxEvents,
    private readonly ownership: SandboxOwnership,
  ) {}

  async run(command: SandboxCommand): Promise<CommandOutcome> {
    const body = (signal: AbortSignal) => this.locked(command, signal);
    if (command.lock === 'wait') return this.lock.withLock(command.sandboxId, body);
    const result = await this.lock.tryWithLock(command.sandboxId, body);
    return result.acquired ? result.value : { outcome: 'busy' };
  }

  /** Publishes events committed outside a run (a create's insert) to the in-process listeners. */
  publish(events: readonly SandboxEventRecord[]): void {
    for (const event of events) this.events.publish(event);
  }

  /** run() for an API caller: the record, or the refusal as a CodedError. */
  async record(command: Omit<SandboxCommand, 'refusals'>): Promise<SandboxRecord> {
    const outcome = await this.run({ ...command, refusals: 'throw' });
    // A waiting lock never answers busy, and refusals throw: there is always a record.
    if (outcome.outcome === 'busy' || outcome.record === null) {
      throw notFound(command.sandboxId);
    }
    return outcome.record;
  }

  private async locked(command: SandboxCommand, signal: AbortSignal): Promise<CommandOutcome> {
    const loaded = await this.load(command);
    if (!loaded) {
      if (command.refusals === 'throw') throw notFound(command.sandboxId);
      return { outcome: 'skipped', why: 'no such sandbox', record: null };
    }
    if (command.foreign !== 'allowed' && !this.ownership.owns(loaded.info)) {
      if (command.refusals === 'throw') throw this.ownership.notOwned(loaded.info);
      return { outcome: 'skipped', why: 'on another node', record: loaded };
    }
    const why = command.unless?.(loaded);
    if (why) return { outcome: 'skipped', why, record: loaded };

    // The event first (if any), then the activity it counts as (if any), on what it left.
    const outcome = command.event === undefined ? null : await this.drive(loaded, command, signal);
    if (command.activity === undefined) return outcome ?? { outcome: 'done', record: loaded };
    return this.touch(outcome?.record ?? loaded, command, outcome);
  }

  /**
   * The record under the lock, if the command's actor may see it. The store is asked within the
   * actor's tenant, and the record is checked again here: whatever loaded it (a create's insert
   * included), nothing reaches the machine for an actor that may not see it.
   */
  private async load(command: SandboxCommand): Promise<SandboxRecord | null> {
    const loaded = await (command.load
      ? command.load()
      : this.store.load(command.sandboxId, scopeTenantOf(command.actor)));
    return loaded !== null && actorSees(command.actor, loaded.info.tenant) ? loaded : null;
  }

  private async drive(
    record: SandboxRecord,
    command: SandboxCommand,
    signal: AbortSignal,
  ): Promise<LoadedOutcome> {
    const run = this.driver.open(record, signal, command.actor);
    try {
      const finished = await run.finishInterrupted();
      const asked = command.event ?? null;
      if (asked === null) {
        return finished
          ? { outcome: 'done', record: run.record }
          : { outcome: 'skipped', why: 'nothing was in flight', record: run.record };
      }
      let event: SandboxMachineEvent | null;
      if ('build' in asked) {
        const probe = verdictOf(run.snapshot, asked.probe);
        if (probe.verdict !== 'accepted') {
          return this.refused(command, run.record, probe.verdict === 'refused' ? probe : null);
        }
        event = await asked.build(run.record, signal);
        if (event === null) return { outcome: 'skipped', why: 'nothing to do', record: run.record };
      } else {
        event = asked;
      }
      const verdict = verdictOf(run.snapshot, event);
      if (verdict.verdict === 'no-op') {
        return { outcome: 'skipped', why: 'no-op', record: run.record };
      }
      if (verdict.verdict === 'refused') return this.refused(command, run.record, verdict);
      await run.send(event);
      return { outcome: 'done', record: run.record };
    } finally {
      run.stop();
      for (const event of run.committed) this.events.publish(event);
    }
  }

  private refused(
    command: SandboxCommand,
    record: SandboxRecord,
    refusal: { code: CodedError['code']; message: string; details: Record<string, unknown> } | null,
  ): LoadedOutcome {
    if (refusal === null) return { outcome: 'skipped', why: 'no-op', record };
    if (command.refusals === 'throw') {
      throw new CodedError(refusal.code, refusal.message, refusal.details);
    }
    return { outcome: 'skipped', why: refusal.code, record };
  }

  /**
   * Activity: the idle deadline moves out, in the states the machine tags live. Elsewhere it is
   * refused (keepalive) or nothing (implicit activity): then the event's outcome stands.
   */
  private async touch(
    record: SandboxRecord,
    command: SandboxCommand,
    eventOutcome: LoadedOutcome | null,
  ): Promise<LoadedOutcome> {
    const options = command.activity ?? {};
    const { info } = record;
    const verdict = capabilityVerdict(info, 'keepAlive');
    if (verdict.verdict === 'refused') {
      if (options.required && command.refusals === 'throw') {
        throw new CodedError(verdict.code, verdict.message, verdict.details);
      }
      return eventOutcome ?? { outcome: 'skipped', why: 'not live', record };
    }
    const now = new Date();
    const lifetime =
      options.maxLifetimeSeconds === undefined
        ? {}
        : { maxLifetimeSeconds: options.maxLifetimeSeconds };
    const deadline = autoStopAt({ ...info, ...lifetime }, now);
    const current = info.autoStopAt;
    const minMoveMs = options.minMoveMs ?? 0;
    if (
      minMoveMs > 0 &&
      deadline !== null &&
      current !== null &&
      Date.parse(deadline) - Date.parse(current) < minMoveMs
    ) {
      return eventOutcome ?? { outcome: 'skipped', why: 'the deadline barely moves', record };
    }
    const updated = await this.store.update(
      info.id,
      { ...lifetime, autoStopAt: deadline, lastActivityAt: now.toISOString() },
      { expectedVersion: record.version, current: record },
    );
    return { outcome: 'done', record: updated };
  }
}

export function notFound(idOrName: string): CodedError {
  return new CodedError('SANDBOX_NOT_FOUND', `sandbox ${idOrName} does not exist`, {
    sandboxId: idOrName,
  });
}
