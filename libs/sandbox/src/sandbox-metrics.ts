import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { isCodedError, SANDBOX_STATES, SandboxInfo } from '@app/domain';
import { SandboxMetaStore } from '@app/meta-store';
import { stateHasTag } from './sandbox.machine';
import { StartOutcomes } from './start-outcomes';

/**
 * Prometheus metrics (prom-client, the de-facto Node client): sandboxes by state (read from the
 * store at scrape time, so every process reports the same truth), and per-operation counts and
 * latencies of this process.
 */
@Injectable()
export class SandboxMetrics {
  readonly registry = new Registry();
  private readonly operations: Counter<'operation' | 'outcome'>;
  private readonly latency: Histogram<'operation'>;
  readonly autoStopped: Counter<'reason'>;
  readonly autoDeleted: Counter;
  readonly reconciled: Counter<'kind'>;
  readonly orphansRemoved: Counter;
  readonly scanDuration: Histogram<'scan'>;
  /** The latest create starts of this process (readiness, and the create outcome below). */
  readonly starts = new StartOutcomes();

  constructor(store: SandboxMetaStore) {
    collectDefaultMetrics({ register: this.registry, prefix: 'sandboxd_process_' });
    this.operations = new Counter({
      name: 'sandboxd_operations_total',
      help: 'Sandbox operations by kind and outcome (ok or the error code).',
      labelNames: ['operation', 'outcome'],
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: 'sandboxd_operation_duration_seconds',
      help: 'Duration of sandbox operations, lock wait included.',
      labelNames: ['operation'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [this.registry],
    });
    this.autoStopped = new Counter({
      name: 'sandboxd_auto_stopped_total',
      help: 'Sandboxes stopped by the scheduler, by reason (idle-timeout, max-lifetime).',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    this.autoDeleted = new Counter({
      name: 'sandboxd_auto_deleted_total',
      help: 'Stopped sandboxes deleted by the scheduler once their autoDeleteAt passed.',
      registers: [this.registry],
    });
    this.reconciled = new Counter({
      name: 'sandboxd_reconciled_total',
      help: 'Drift repaired by the reconciler, by kind.',
      labelNames: ['kind'],
      registers: [this.registry],
    });
    this.orphansRemoved = new Counter({
      name: 'sandboxd_orphans_removed_total',
      help: 'Containers carrying our ownership label without a record, removed.',
      registers: [this.registry],
    });
    this.scanDuration = new Histogram({
      name: 'sandboxd_scan_duration_seconds',
      help: 'Duration of scheduler scans (auto-stop, auto-delete, reconcile).',
      labelNames: ['scan'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [this.registry],
    });
    new Gauge({
      name: 'sandboxd_sandboxes',
      help: 'Sandboxes by state.',
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        const counts = await store.countByState();
        for (const state of SANDBOX_STATES) this.set({ state }, counts[state]);
      },
    });
  }

  /** Runs an operation, counting its outcome and timing it. */
  async time<T>(operation: string, run: () => Promise<T>): Promise<T> {
    const end = this.latency.startTimer({ operation });
    try {
      const result = await run();
      this.operations.inc({ operation, outcome: this.outcomeOf(operation, result) });
      return result;
    } catch (error) {
      this.operations.inc({ operation, outcome: isCodedError(error) ? error.code : 'error' });
      throw error;
    } finally {
      end();
    }
  }

  /**
   * A create does not throw when its container fails to start: it answers the sandbox, stopped
   * with its failureReason. That is a failure all the same, counted under the code it ended with.
   */
  private outcomeOf(operation: string, result: unknown): string {
    if (operation !== 'create' || !isRecord(result)) return 'ok';
    const { info } = result;
    if (stateHasTag(info, 'live') || info.failureReason === null) return 'ok';
    return this.starts.takeFailureCode(info.id) ?? 'CONTAINER_FAILED';
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}

function isRecord(
  value: unknown,
): value is { info: Pick<SandboxInfo, 'id' | 'state' | 'operation' | 'failureReason'> } {
  if (typeof value !== 'object' || value === null) return false;
  const info = (value as { info?: unknown }).info;
  return typeof info === 'object' && info !== null && 'failureReason' in info && 'state' in info;
}
