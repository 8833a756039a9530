import 'reflect-metadata';
import { loadConfig } from '@app/config';
import { eventViewOf, NewSandboxEvent } from '@app/domain';
import {
  buildDataSourceOptions,
  initializeDataSource,
  MemoryKeyValueStore,
  SandboxMetaStore,
  WebhookStore,
} from '@app/meta-store';
import type { ClaimedDelivery } from '@app/meta-store';
import { DataSource } from 'typeorm';
import {
  makeSandboxInfo,
  makeSandboxSpec,
  testKeyring,
} from '../../../libs/meta-store/src/testing/sandbox-fixtures';
import { idFactory, tempSqlite } from './meta-store-support';
import { createScratchDatabase } from '../../support/database';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const body = (event: { id: number; payload: string }) => `{"id":${event.id}}`;

/** The webhooks' tables on each database: fan-out once, claims exclusive, order per sandbox. */
function describeWebhookStore(
  name: string,
  open: () => Promise<{ ds: DataSource; close(): Promise<void> }>,
) {
  describe(`WebhookStore on ${name}`, () => {
    let ds: DataSource;
    let close: () => Promise<void>;
    let store: SandboxMetaStore;
    let webhooks: WebhookStore;
    const newId = idFactory(name.replace(/[^a-z]/gi, '').slice(0, 6));

    beforeAll(async () => {
      ({ ds, close } = await open());
      store = new SandboxMetaStore(ds, new MemoryKeyValueStore(), testKeyring());
      webhooks = new WebhookStore(ds, testKeyring());
    });
    afterAll(() => close());

    const created = async (tenant: string | null = null) => {
      const info = makeSandboxInfo({ id: newId() });
      const event: NewSandboxEvent = {
        type: 'sandbox.created',
        at: new Date().toISOString(),
        sandboxId: info.id,
        actor: { kind: 'system', tenant: null, keyId: null },
        tenant,
        reason: null,
        detail: null,
        sandbox: eventViewOf(info),
      };
      const result = await store.insert({
        info,
        spec: makeSandboxSpec(),
        machineSnapshot: null,
        machineVersion: '1',
        events: [event, { ...event, type: 'sandbox.running' }],
      });
      return result.record.info.id;
    };
    const hook = (overrides: Partial<Parameters<WebhookStore['create']>[0]> = {}) =>
      webhooks.create({
        id: `wh_${newId()
          .replace(/[^a-z0-9]/g, '')
          .slice(-24)
          .padStart(24, '0')}`,
        url: 'http://127.0.0.1:9/hook',
        events: null,
        description: null,
        tenant: null,
        secret: SECRET,
        ...overrides,
      });
    const claimAll = (token: string, room = () => 100) =>
      webhooks.claimDue(token, 60_000, 100, room);
    const drain = async (): Promise<void> => {
      // Claims and finishes everything due, so a test starts with an empty queue.
      for (
        let claimed = await claimAll('drain');
        claimed.length > 0;
        claimed = await claimAll('drain')
      ) {
        for (const d of claimed) await finish(d, 'succeeded');
      }
    };
    const finish = (
      d: ClaimedDelivery,
      status: 'succeeded' | 'pending' | 'failed',
      next: number | null = null,
    ) =>
      webhooks.finish(d, {
        at: Date.now(),
        statusCode: 200,
        error: null,
        durationMs: 1,
        status,
        nextAttemptAt: next,
      });

    it('makes one delivery per event and webhook, however many replicas fan out at once', async () => {
      await webhooks.fanOut(10_000, body);
      await drain();
      const a = await hook();
      const b = await hook({ events: ['sandbox.running'] });
      await created();
      const made = await Promise.all([1, 2, 3, 4].map(() => webhooks.fanOut(10_000, body)));
      expect(made.reduce((x, y) => x + y, 0)).toBe(3);
      const claimed = (await claimAll('t1')).filter((d) => [a.id, b.id].includes(d.webhookId));
      const mine = claimed.map((d) => `${d.webhookId === a.id ? 'a' : 'b'}:${d.eventType}`);
      // Only the first of a sandbox's deliveries is claimable: the next waits behind it.
      expect(mine.sort()).toEqual(['a:sandbox.created', 'b:sandbox.running']);
      expect(claimed.every((d) => d.secret === SECRET && d.url === 'http://127.0.0.1:9/hook')).toBe(
        true,
      );
      for (const d of claimed) await finish(d, 'succeeded');
      const next = (await claimAll('t2')).filter((d) => d.webhookId === a.id);
      expect(next.map((d) => d.eventType)).toEqual(['sandbox.running']);
      expect(next[0].attempt).toBe(1);
      for (const d of next) await finish(d, 'succeeded');
      const shown = await webhooks.deliveries(a.id, 10);
      expect(shown.map((d) => [d.eventType, d.status, d.attempts.length])).toEqual([
        ['sandbox.running', 'succeeded', 1],
        ['sandbox.created', 'succeeded', 1],
      ]);
      expect(shown[0].eventId).not.toBeNull();
      await webhooks.delete(a.id);
      await webhooks.delete(b.id);
    });

    it('lets exactly one of racing workers claim each attempt, and records only under the lease', async () => {
      await drain();
      const a = await hook();
      await Promise.all([created(), created(), created()]);
      await webhooks.fanOut(10_000, body);
      const claims = await Promise.all(['w1', 'w2', 'w3'].map((token) => claimAll(token)));
      const ids = claims
        .flat()
        .filter((d) => d.webhookId === a.id)
        .map((d) => d.id);
      expect(ids).toHaveLength(3);
      expect(new Set(ids).size).toBe(3);
      const one = claims.flat().find((d) => d.webhookId === a.id)!;
      expect(await finish({ ...one, leaseToken: 'someone-else' }, 'succeeded')).toBe(false);
      expect(await finish(one, 'pending', Date.now() + 60_000)).toBe(true);
      // Retried later: not due now, and the lease is free again.
      const again = (await claimAll('w4')).filter((d) => d.id === one.id);
      expect(again).toEqual([]);
      await webhooks.delete(a.id);
    });

    it('claims at most the room each webhook has, so one backlog never takes every slot', async () => {
      await drain();
      const slow = await hook();
      const fast = await hook();
      await Promise.all([created(), created(), created(), created()]);
      await webhooks.fanOut(10_000, body);
      const claimed = await webhooks.claimDue('r1', 60_000, 100, (id) =>
        id === slow.id ? 1 : 100,
      );
      const count = (id: string) => claimed.filter((d) => d.webhookId === id).length;
      expect(count(slow.id)).toBe(1);
      expect(count(fast.id)).toBe(4);
      await webhooks.delete(slow.id);
      await webhooks.delete(fast.id);
    });

    it("sends a tenant's webhook only its tenant's events", async () => {
      await drain();
      const mine = await hook({ tenant: 'team-a' });
      await created('team-b');
      await created('team-a');
      await webhooks.fanOut(10_000, body);
      const claimed = (await claimAll('t')).filter((d) => d.webhookId === mine.id);
      expect(claimed).toHaveLength(1);
      expect(claimed[0].payload).toBe(`{"id":${claimed[0].eventId}}`);
      expect((await webhooks.list({ tenant: 'team-a' })).map((w) => w.id)).toEqual([mine.id]);
      await expect(webhooks.get(mine.id, { tenant: 'team-b' })).rejects.toMatchObject({
        code: 'WEBHOOK_NOT_FOUND',
      });
      await webhooks.delete(mine.id);
    });
  });
}

describeWebhookStore('PostgreSQL', async () => {
  const database = await createScratchDatabase('webhooks');
  const config = loadConfig({ DATABASE_URL: database.url });
  const ds = await initializeDataSource(buildDataSourceOptions(config.store, testKeyring()));
  return {
    ds,
    close: async () => {
      await ds.destroy();
      await database.drop();
    },
  };
});

describeWebhookStore('SQLite', async () => {
  const file = tempSqlite();
  const config = loadConfig({ SQLITE_PATH: file.path });
  const ds = await initializeDataSource(buildDataSourceOptions(config.store, testKeyring()));
  return {
    ds,
    close: async () => {
      await ds.destroy();
      file.remove();
    },
  };
});
