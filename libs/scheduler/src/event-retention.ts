import { Injectable, Logger } from '@nestjs/common';
import { EventsConfig } from '@app/config';
import { SandboxEventLog, WebhookStore } from '@app/meta-store';

/** Rows deleted per statement: short enough never to hold SQLite's one connection for long. */
const PRUNE_BATCH = 1000;
/** Statements per pass at most; a larger backlog is finished by the next passes. */
const MAX_BATCHES = 100;
const DAY_MS = 86_400_000;

/**
 * EVENT_RETENTION_DAYS: deletes the events older than that, and the finished webhook deliveries
 * (with their attempts) created before it. Run hourly by one replica (LifecycleScheduler's slot
 * and task lock); pending deliveries are kept whatever their age, since they carry their body.
 */
@Injectable()
export class EventRetention {
  private readonly logger = new Logger(EventRetention.name);

  constructor(
    private readonly config: EventsConfig,
    private readonly log: SandboxEventLog,
    private readonly webhooks: WebhookStore,
  ) {}

  async prune(now = Date.now()): Promise<{ events: number; deliveries: number }> {
    const before = now - this.config.retentionDays * DAY_MS;
    const events = await drain((batch) => this.log.prune(before, batch));
    const deliveries = await drain((batch) => this.webhooks.pruneFinished(before, batch));
    if (events + deliveries > 0) {
      this.logger.log(`pruned ${events} event(s) and ${deliveries} finished delivery(ies)`);
    }
    return { events, deliveries };
  }
}

async function drain(step: (batch: number) => Promise<number>): Promise<number> {
  let total = 0;
  for (let i = 0; i < MAX_BATCHES; i++) {
    const n = await step(PRUNE_BATCH);
    total += n;
    if (n < PRUNE_BATCH) break;
  }
  return total;
}
