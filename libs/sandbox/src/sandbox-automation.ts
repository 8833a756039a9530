import { Injectable, Logger } from '@nestjs/common';
import { SchedulerConfig } from '@app/config';
import { describeError, SYSTEM_ACTOR } from '@app/domain';
import { SandboxMetaStore } from '@app/meta-store';
import { settleBounded } from './bounded';
import { autoStopReason } from './deadlines';
import { SandboxCommands } from './sandbox-commands';
import { SandboxMetrics } from './sandbox-metrics';
import { SandboxOwnership } from './sandbox-ownership';

export type AutomationOutcome = 'done' | 'skipped' | 'busy';

export interface ScanResult {
  scanned: number;
  done: number;
  skipped: number;
  busy: number;
  failed: number;
}

/**
 * The automatic transitions: idle/lifetime auto-stop and auto-delete of old stopped sandboxes.
 * Each scan takes a bounded batch of due ids (oldest deadline first), handles them with bounded
 * concurrency, and hands each to SandboxCommands, which re-reads it under its lock: the deadline
 * must still be due (the trigger's condition) and the machine must take the event (protected,
 * pending or already stopped sandboxes are skipped), so a stale index entry, a second process or
 * a concurrent command never causes a wrong or double transition.
 */
@Injectable()
export class SandboxAutomation {
  private readonly logger = new Logger(SandboxAutomation.name);

  constructor(
    private readonly config: SchedulerConfig,
    private readonly store: SandboxMetaStore,
    private readonly commands: SandboxCommands,
    private readonly metrics: SandboxMetrics,
    private readonly ownership: SandboxOwnership,
  ) {}

  async autoStopDue(now = new Date()): Promise<ScanResult> {
    // The scan's time includes finding what is due: at scale that query is most of a pass.
    const end = this.metrics.scanDuration.startTimer({ scan: 'auto-stop' });
    const ids = await this.store.dueForAutoStop(now, this.config.batchSize);
    return this.scan('auto-stop', ids, (id) => this.autoStopOne(id, now), end);
  }

  async autoDeleteDue(now = new Date()): Promise<ScanResult> {
    const end = this.metrics.scanDuration.startTimer({ scan: 'auto-delete' });
    const ids = await this.store.dueForAutoDelete(
      now,
      this.config.batchSize,
      this.ownership.scanScope,
    );
    return this.scan('auto-delete', ids, (id) => this.autoDeleteOne(id, now), end);
  }

  private async autoStopOne(id: string, now: Date): Promise<AutomationOutcome> {
    let reason: string = 'idle-timeout';
    const result = await this.commands.run({
      sandboxId: id,
      actor: SYSTEM_ACTOR,
      lock: 'try',
      refusals: 'skip',
      // The trigger's condition: the deadline is still due (activity may have moved it).
      unless: ({ info }) => (isDue(info.autoStopAt, now) ? null : 'not due'),
      // Pending sandboxes are the startup timeout's business: the machine stops none.
      event: {
        probe: { type: 'stop' },
        build: ({ info }) => {
          reason = autoStopReason(info, now);
          return Promise.resolve({ type: 'stop', reason });
        },
      },
    });
    if (result.outcome !== 'done') return result.outcome;
    this.metrics.autoStopped.inc({ reason });
    this.logger.log(`sandbox ${id} stopped: ${reason}`);
    return 'done';
  }

  private async autoDeleteOne(id: string, now: Date): Promise<AutomationOutcome> {
    const result = await this.commands.run({
      sandboxId: id,
      actor: SYSTEM_ACTOR,
      lock: 'try',
      refusals: 'skip',
      unless: ({ info }) => (isDue(info.autoDeleteAt, now) ? null : 'not due'),
      // A protected or live sandbox: the machine refuses, and the scan skips it.
      event: { type: 'delete', reason: 'auto-delete' },
    });
    if (result.outcome !== 'done') return result.outcome;
    this.metrics.autoDeleted.inc();
    this.logger.log(`sandbox ${id} deleted: auto-delete`);
    return 'done';
  }

  private async scan(
    name: string,
    ids: string[],
    handle: (id: string) => Promise<AutomationOutcome>,
    end: () => unknown,
  ): Promise<ScanResult> {
    const settled = await settleBounded(ids, this.config.concurrency, handle);
    end();
    const result: ScanResult = { scanned: ids.length, done: 0, skipped: 0, busy: 0, failed: 0 };
    settled.forEach((outcome, i) => {
      if (outcome.status === 'fulfilled') {
        result[outcome.value] += 1;
      } else {
        result.failed += 1;
        this.logger.warn(`${name} of sandbox ${ids[i]} failed: ${describeError(outcome.reason)}`);
      }
    });
    return result;
  }
}

/** A deadline that is set and has passed at `now`. */
function isDue(deadline: string | null, now: Date): boolean {
  return deadline !== null && Date.parse(deadline) <= now.getTime();
}
