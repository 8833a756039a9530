import { ContainerProvisioner } from './container-provisioner';
import { Injectable, Logger } from '@nestjs/common';
import { DockerConfig, SchedulerConfig } from '@app/config';
import { describeError, SandboxRecord, SandboxState, SYSTEM_ACTOR } from '@app/domain';
import { ContainerEvent, DockerDeployment, exitReason, OwnedContainer } from '@app/deployment';
import { SandboxLock, SandboxMetaStore } from '@app/meta-store';
import { settleBounded } from './bounded';
import { SandboxCommands } from './sandbox-commands';
import { SandboxMetrics } from './sandbox-metrics';
import { SandboxOwnership } from './sandbox-ownership';
import { stateHasTag } from './sandbox.machine';
import { reconcileUsage, usageDriftItem } from './usage-drift';

export const DRIFT_KINDS = [
  'container-exited',
  'container-missing',
  'operation-interrupted',
  'deleted-container-present',
  'orphan-container',
  'stopped-container-running',
  'usage-drift',
] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

export interface DriftItem {
  kind: DriftKind;
  sandboxId: string | null;
  containerId: string | null;
  detail: string;
}

export interface ReconcileAction extends DriftItem {
  outcome: 'repaired' | 'skipped' | 'busy' | 'failed';
  error?: string;
}

const PAGE = 500;

/**
 * Keeps records and Docker in step: a running record whose container exited or vanished becomes
 * stopped (with the exit code or OOM as the reason); an operation a killed process left in
 * flight is finished or rolled back; the container of a deleted record is removed; a container
 * with our ownership label and no record is removed after a grace period. `report()` only looks;
 * `run()` repairs, re-checking each sandbox under its lock first.
 */

const NO_RECORD = 'no sandbox record';
@Injectable()
export class SandboxReconciler {
  private readonly logger = new Logger(SandboxReconciler.name);

  constructor(
    private readonly dockerConfig: DockerConfig,
    private readonly schedulerConfig: SchedulerConfig,
    private readonly store: SandboxMetaStore,
    private readonly deployment: DockerDeployment,
    private readonly commands: SandboxCommands,
    private readonly metrics: SandboxMetrics,
    private readonly provisioner: ContainerProvisioner,
    private readonly ownership: SandboxOwnership,
    private readonly lock: SandboxLock,
  ) {}

  async report(): Promise<DriftItem[]> {
    const [items, usage] = await Promise.all([this.recordDrift(), this.store.usageDrift()]);
    return [...items, ...usage.map(usageDriftItem)];
  }

  /** Drift between the records and Docker (the usage counters' is reconcileUsage's). */
  private async recordDrift(): Promise<DriftItem[]> {
    const [containers, instances, allRunning, allInFlight] = await Promise.all([
      this.deployment.listOwned(),
      this.store.knownInstanceIds(),
      this.allInStates(['running']),
      this.store.listWithOperationInFlight(),
    ]);
    // Cluster mode: the records of other nodes' sandboxes are not this engine's to compare.
    const running = allRunning.filter((record) => this.ownership.owns(record.info));
    const inFlight = allInFlight.filter((record) => this.ownership.owns(record.info));
    const items: DriftItem[] = [];
    const byId = new Map(containers.map((c) => [c.containerId, c]));
    for (const record of running) {
      // Expected up and settled (work in flight is the operation's, not drift).
      if (!stateHasTag(record.info, 'container-up')) continue;
      const container = record.info.containerId ? byId.get(record.info.containerId) : undefined;
      if (!container || !container.running) {
        items.push({
          kind: container ? 'container-exited' : 'container-missing',
          sandboxId: record.info.id,
          containerId: record.info.containerId,
          detail: exitReason(container ?? null),
        });
      }
    }
    for (const record of inFlight) {
      items.push({
        kind: 'operation-interrupted',
        sandboxId: record.info.id,
        containerId: record.info.containerId,
        detail: `${record.info.operation} in flight (finished here if no process is working on it)`,
      });
    }
    // The records just read are as fresh as a second read would be: only the containers of other
    // sandboxes (stopped, deleted, unknown) need theirs loaded, not all 500 again.
    const loaded = new Map([...running, ...inFlight].map((r) => [r.info.id, r]));
    items.push(
      ...(await this.containerDrift(
        containers,
        new Set([...instances, this.dockerConfig.instanceId]),
        loaded,
      )),
    );
    return items;
  }

  async run(): Promise<ReconcileAction[]> {
    const end = this.metrics.scanDuration.startTimer({ scan: 'reconcile' });
    try {
      const [items, usage] = await Promise.all([
        this.recordDrift(),
        reconcileUsage(this.store, this.metrics),
      ]);
      const settled = await settleBounded(items, this.schedulerConfig.concurrency, (item) =>
        this.repair(item),
      );
      const actions = settled.map((outcome, i): ReconcileAction => {
        if (outcome.status === 'fulfilled') return { ...items[i], outcome: outcome.value };
        const error = describeError(outcome.reason);
        this.logger.warn(`reconcile ${items[i].kind} of ${items[i].sandboxId}: ${error}`);
        return { ...items[i], outcome: 'failed', error };
      });
      return [...actions, ...usage];
    } finally {
      end();
    }
  }

  /** Reacts to one Docker event (die, oom, destroy) for one sandbox, within the event latency. */
  async onContainerEvent(event: ContainerEvent): Promise<void> {
    if (!event.sandboxId) return;
    try {
      const outcome = await this.settleExited(event.sandboxId);
      if (outcome === 'repaired') this.metrics.reconciled.inc({ kind: `event-${event.action}` });
    } catch (error) {
      this.logger.warn(`event ${event.action} for ${event.sandboxId}: ${describeError(error)}`);
    }
  }

  /** Subscribes to Docker's event stream; a (re)connect runs a full pass for missed events. */
  watch(): { stop(): void } {
    return this.deployment.watchEvents(
      (event) => void this.onContainerEvent(event),
      () => void this.run().catch((e: unknown) => this.logger.warn(`resync: ${describeError(e)}`)),
    );
  }

  private async repair(item: DriftItem): Promise<ReconcileAction['outcome']> {
    let outcome: ReconcileAction['outcome'];
    switch (item.kind) {
      case 'container-exited':
      case 'container-missing':
        outcome = await this.settleExited(item.sandboxId!);
        break;
      case 'operation-interrupted':
        outcome = await this.finishInterrupted(item.sandboxId!);
        break;
      case 'deleted-container-present':
      case 'orphan-container':
        // The log dir (and its mount) goes with a container no live record uses; a record that
        // still exists with another container keeps its log dir.
        if (item.sandboxId && item.detail === NO_RECORD) {
          await this.provisioner.remove(item.sandboxId, item.containerId!);
        } else if (item.sandboxId && item.kind === 'deleted-container-present') {
          await this.provisioner.remove(item.sandboxId, item.containerId!);
        } else {
          await this.deployment.remove(item.containerId!);
        }
        if (item.kind === 'orphan-container') this.metrics.orphansRemoved.inc();
        this.logger.warn(`removed container ${item.containerId} (${item.kind}): ${item.detail}`);
        outcome = 'repaired';
        break;
      case 'stopped-container-running':
        outcome = await this.stopBehindRecord(item.sandboxId!, item.containerId!);
        break;
      case 'usage-drift':
        outcome = 'skipped'; // never listed for repair: run() reconciles the counters at once
        break;
    }
    if (outcome === 'repaired') this.metrics.reconciled.inc({ kind: item.kind });
    return outcome;
  }

  /** A running record whose container is down or gone becomes stopped, with the reason. */
  private async settleExited(sandboxId: string): Promise<ReconcileAction['outcome']> {
    const result = await this.commands.run({
      sandboxId,
      actor: SYSTEM_ACTOR,
      lock: 'try',
      refusals: 'skip',
      // Only a sandbox the machine would stop for an exit costs an inspect.
      event: {
        probe: { type: 'exited', reason: 'probe' },
        build: async ({ info }, signal) => {
          const container = await this.deployment.inspect(
            info.containerId ?? this.deployment.containerName(sandboxId),
            signal,
          );
          return container?.running ? null : { type: 'exited', reason: exitReason(container) };
        },
      },
    });
    if (result.outcome !== 'done') return result.outcome === 'busy' ? 'busy' : 'skipped';
    this.logger.warn(
      `sandbox ${sandboxId} stopped behind our back: ${result.record.info.failureReason}`,
    );
    return 'repaired';
  }

  /**
   * The record says stopped and the container runs (a node came back after it was declared lost,
   * and its sandboxes were stopped meanwhile): the record wins, the container is stopped and kept,
   * so a restart brings the sandbox back with its files. Under the sandbox's lock, re-read first,
   * so a restart that just began is not undone.
   */
  private async stopBehindRecord(
    sandboxId: string,
    containerId: string,
  ): Promise<ReconcileAction['outcome']> {
    const result = await this.lock.tryWithLock(sandboxId, async (signal) => {
      const record = await this.store.load(sandboxId);
      if (!record || !isSettledStopped(record) || record.info.containerId !== containerId) {
        return 'skipped' as const;
      }
      await this.deployment.stop(containerId, undefined, signal);
      return 'repaired' as const;
    });
    if (!result.acquired) return 'busy';
    if (result.value === 'repaired') {
      this.logger.warn(`stopped container ${containerId}: sandbox ${sandboxId} is stopped`);
    }
    return result.value;
  }

  private async finishInterrupted(sandboxId: string): Promise<ReconcileAction['outcome']> {
    const result = await this.commands.run({
      sandboxId,
      actor: SYSTEM_ACTOR,
      lock: 'try',
      refusals: 'skip',
      event: null,
    });
    if (result.outcome !== 'done') return result.outcome === 'busy' ? 'busy' : 'skipped';
    this.logger.warn(`finished the interrupted operation of sandbox ${sandboxId}`);
    return 'repaired';
  }

  private async containerDrift(
    containers: OwnedContainer[],
    knownInstances: Set<string>,
    loaded: Map<string, SandboxRecord>,
  ): Promise<DriftItem[]> {
    const records = new Map(loaded);
    const ids = [
      ...new Set(
        containers.map((c) => c.sandboxId).filter((id): id is string => !!id && !records.has(id)),
      ),
    ];
    for (let i = 0; i < ids.length; i += PAGE) {
      for (const r of await this.store.loadMany(ids.slice(i, i + PAGE))) records.set(r.info.id, r);
    }
    const items: DriftItem[] = [];
    for (const container of containers) {
      const record = container.sandboxId ? records.get(container.sandboxId) : undefined;
      const item = { sandboxId: container.sandboxId, containerId: container.containerId };
      if (record && stateHasTag(record.info, 'container-gone')) {
        items.push({ ...item, kind: 'deleted-container-present', detail: 'record is deleted' });
      } else if (
        record &&
        container.running &&
        isSettledStopped(record) &&
        record.info.containerId === container.containerId
      ) {
        items.push({
          ...item,
          kind: 'stopped-container-running',
          detail: `record is stopped (${record.info.failureReason ?? 'stopped'})`,
        });
      } else if (this.isOrphan(container, record, knownInstances)) {
        items.push({
          ...item,
          kind: 'orphan-container',
          detail: record
            ? `sandbox ${record.info.id} uses container ${record.info.containerId}`
            : NO_RECORD,
        });
      }
    }
    return items;
  }

  private isOrphan(
    container: OwnedContainer,
    record: SandboxRecord | undefined,
    knownInstances: Set<string>,
  ): boolean {
    // Containers of a sandboxd whose records live in another database are not ours to judge.
    if (!container.instanceId || !knownInstances.has(container.instanceId)) return false;
    const ageMs = Date.now() - Date.parse(container.createdAt ?? '1970-01-01T00:00:00Z');
    if (ageMs < this.schedulerConfig.orphanGraceSeconds * 1000) return false;
    // An unclaimed warm-pool member is its instance's pool's to keep or clear (WarmPool.start),
    // and another instance's pool may be alive and waiting to hand it out.
    if (!record && container.poolKey) return false;
    if (!record) return true;
    // A second container for a sandbox that has settled on another one is a leftover.
    return (
      !stateHasTag(record.info, 'busy') &&
      record.info.containerId !== null &&
      record.info.containerId !== container.containerId
    );
  }

  private async allInStates(states: SandboxState[]): Promise<SandboxRecord[]> {
    const out: SandboxRecord[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.store.listByStates(states, PAGE, after);
      out.push(...page);
      if (page.length < PAGE) return out;
      after = page[page.length - 1].info.id;
    }
  }
}

/** A stopped record with no operation in flight: its container should not be running. */
function isSettledStopped(record: SandboxRecord): boolean {
  return stateHasTag(record.info, 'container-down');
}
