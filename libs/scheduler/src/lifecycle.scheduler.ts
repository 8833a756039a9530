import { randomUUID } from 'node:crypto';
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { ClusterConfig, PoolConfig, SchedulerConfig } from '@app/config';
import { describeError } from '@app/domain';
import { KeyValueStore, TaskLock } from '@app/meta-store';
import { NodeLoss, SandboxAutomation, SandboxReconciler, WarmPool } from '@app/sandbox';
import { EventRetention } from './event-retention';
import { slotKey, slotOf } from './task-slot';

type Job = () => Promise<unknown>;

const INTERVAL_PREFIX = 'sandboxd-';
/** How often old events are pruned (EVENT_RETENTION_DAYS). */
const RETENTION_INTERVAL_SECONDS = 3600;

/**
 * Thin timers around the sandbox service's scans. Every job runs at most once per interval across
 * all processes (a claimed slot in the shared store) and never overlaps itself (a task lock);
 * the transitions themselves stay idempotent, so a lost claim can never double a stop or delete.
 */
@Injectable()
export class LifecycleScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(LifecycleScheduler.name);
  private readonly owner = randomUUID();
  private watcher: { stop(): void } | null = null;
  private stopping = false;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly config: SchedulerConfig,
    private readonly poolConfig: PoolConfig,
    private readonly registry: SchedulerRegistry,
    private readonly kv: KeyValueStore,
    private readonly tasks: TaskLock,
    private readonly automation: SandboxAutomation,
    private readonly reconciler: SandboxReconciler,
    private readonly pool: WarmPool,
    private readonly retention: EventRetention,
    private readonly cluster: ClusterConfig,
    private readonly nodeLoss: NodeLoss,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.enabled) {
      this.logger.log('scheduler disabled (SCHEDULER_ENABLED=false)');
      return;
    }
    const scans = this.config.intervalSeconds;
    // Cluster mode: each instance scans for the sandboxes on its own node's engine, so every
    // instance runs these; node loss, which any instance may mark, runs once per beat in all.
    const own = this.cluster.enabled ? 'process' : 'cluster';
    this.every('auto-stop', scans, () => this.automation.autoStopDue(), own);
    this.every('auto-delete', scans, () => this.automation.autoDeleteDue(), own);
    this.every('reconcile', this.config.reconcileIntervalSeconds, () => this.reconciler.run(), own);
    if (this.cluster.enabled) {
      this.every('node-loss', this.cluster.heartbeatMs / 1000, () => this.nodeLoss.sweep());
    }
    this.every('event-retention', RETENTION_INTERVAL_SECONDS, () => this.retention.prune());
    // Pool members belong to this process, so every process checks its own.
    if (this.poolConfig.entries.some((entry) => entry.size > 0)) {
      this.every('warm-pool', scans, () => this.pool.maintain(), 'process');
    }
    if (this.config.dockerEvents) {
      // Docker events make drift visible within a second; every (re)connect also runs a full
      // pass, which covers start-up and anything missed while the stream was down.
      this.watcher = this.reconciler.watch();
    } else {
      this.track(this.runOncePerSlot('reconcile', 1000, () => this.reconciler.run()));
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.watcher?.stop();
    for (const name of this.registry.getIntervals()) {
      if (name.startsWith(INTERVAL_PREFIX)) this.registry.deleteInterval(name);
    }
    await Promise.allSettled([...this.inFlight]);
  }

  /** @param scope 'cluster': once per interval across all processes; 'process': in each one. */
  private every(
    name: string,
    seconds: number,
    job: Job,
    scope: 'cluster' | 'process' = 'cluster',
  ): void {
    let running = false;
    const tick = () => {
      if (running || this.stopping) return;
      running = true;
      const run =
        scope === 'cluster'
          ? this.runOncePerSlot(name, seconds * 1000, job)
          : this.runHere(name, job);
      this.track(
        run.finally(() => {
          running = false;
        }),
      );
    };
    this.registry.addInterval(`${INTERVAL_PREFIX}${name}`, setInterval(tick, seconds * 1000));
  }

  private track(run: Promise<unknown>): void {
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
  }

  private async runHere(name: string, job: Job): Promise<void> {
    try {
      await job();
    } catch (error) {
      this.logger.warn(`${name} failed: ${describeError(error)}`);
    }
  }

  private async runOncePerSlot(name: string, intervalMs: number, job: Job): Promise<void> {
    try {
      const key = slotKey(name, slotOf(Date.now(), intervalMs));
      if (!(await this.kv.setIfAbsent(key, this.owner, intervalMs * 2))) return;
      await this.tasks.runExclusive(name, Math.max(intervalMs * 3, 30_000), async () => {
        await job();
      });
    } catch (error) {
      this.logger.warn(`${name} scan failed: ${describeError(error)}`);
    }
  }
}
