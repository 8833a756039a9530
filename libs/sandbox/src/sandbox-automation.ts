import { Injectable, Logger } from '@nestjs/common';
import { SchedulerConfig } from '@app/config';
import { describeError } from '@app/domain';
import { SandboxLock, SandboxMetaStore } from '@app/meta-store';
import { settleBounded } from './bounded';
import { autoStopReason } from './deadlines';
import { SandboxDriver } from './sandbox-driver';
import { SandboxMetrics } from './sandbox-metrics';
import { SandboxService } from './sandbox.service';

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
 * concurrency, and re-checks every sandbox under its lock before acting, so a stale index entry,
 * a second process or a concurrent command never causes a wrong or double transition.
 */
@Injectable()
export class SandboxAutomation {
  private readonly logger = new Logger(SandboxAutomation.name);

  constructor(
    private readonly config: SchedulerConfig,
    private readonly store: SandboxMetaStore,
    private readonly lock: SandboxLock,
    private readonly driver: SandboxDriver,
    private readonly sandboxes: SandboxService,
    private readonly metrics: SandboxMetrics,
  ) {}

  async autoStopDue(now = new Date()): Promise<ScanResult> {
    const ids = await this.store.dueForAutoStop(now, this.config.batchSize);
    return this.scan('auto-stop', ids, (id) => this.autoStopOne(id, now));
  }

  async autoDeleteDue(now = new Date()): Promise<ScanResult> {
    const ids = await this.store.dueForAutoDelete(now, this.config.batchSize);
    return this.scan('auto-delete', ids, (id) => this.autoDeleteOne(id, now));
  }

  private async autoStopOne(id: string, now: Date): Promise<AutomationOutcome> {
    const result = await this.lock.tryWithLock(id, async (signal): Promise<AutomationOutcome> => {
      const record = await this.store.load(id);
      const info = record?.info;
      // Pending sandboxes are the startup timeout's business, not the idle timeout's.
      if (!record || !info || info.state !== 'running' || info.operation !== null) return 'skipped';
      if (info.autoStopAt === null || Date.parse(info.autoStopAt) > now.getTime()) return 'skipped';
      const reason = autoStopReason(info, now);
      const stopped = await this.driver.drive(record, { type: 'stop', reason }, signal);
      this.metrics.autoStopped.inc({ reason });
      this.logger.log(`sandbox ${id} stopped: ${reason}`);
      await this.sandboxes.deleteIfEphemeral(stopped, signal);
      return 'done';
    });
    return result.acquired ? result.value : 'busy';
  }

  private async autoDeleteOne(id: string, now: Date): Promise<AutomationOutcome> {
    const result = await this.lock.tryWithLock(id, async (signal): Promise<AutomationOutcome> => {
      const record = await this.store.load(id);
      const info = record?.info;
      if (!record || !info || info.state !== 'stopped' || info.protected) return 'skipped';
      if (info.operation !== null) return 'skipped';
      if (info.autoDeleteAt === null || Date.parse(info.autoDeleteAt) > now.getTime()) {
        return 'skipped';
      }
      await this.driver.drive(record, { type: 'delete', reason: 'auto-delete' }, signal);
      this.metrics.autoDeleted.inc();
      this.logger.log(`sandbox ${id} deleted: auto-delete`);
      return 'done';
    });
    return result.acquired ? result.value : 'busy';
  }

  private async scan(
    name: string,
    ids: string[],
    handle: (id: string) => Promise<AutomationOutcome>,
  ): Promise<ScanResult> {
    const end = this.metrics.scanDuration.startTimer({ scan: name });
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
