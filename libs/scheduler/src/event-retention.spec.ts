import { loadConfig } from '@app/config';
import type { SandboxEventLog, WebhookStore } from '@app/meta-store';
import { EventRetention } from './event-retention';

describe(EventRetention.name, () => {
  it('prunes events and finished deliveries older than EVENT_RETENTION_DAYS, batch after batch', async () => {
    const cutoffs: number[] = [];
    let backlog = 2500;
    const log = {
      prune: (before: number, batch: number) => {
        cutoffs.push(before);
        const n = Math.min(batch, backlog);
        backlog -= n;
        return Promise.resolve(n);
      },
    } as unknown as SandboxEventLog;
    const webhooks = {
      pruneFinished: () => Promise.resolve(3),
    } as unknown as WebhookStore;
    const retention = new EventRetention(
      loadConfig({ EVENT_RETENTION_DAYS: '2' }).events,
      log,
      webhooks,
    );
    const now = Date.parse('2026-06-10T00:00:00.000Z');
    expect(await retention.prune(now)).toEqual({ events: 2500, deliveries: 3 });
    // Three batches of at most 1000, each with the same cutoff: two days before now.
    expect(cutoffs).toEqual([1, 2, 3].map(() => Date.parse('2026-06-08T00:00:00.000Z')));
  });
});
