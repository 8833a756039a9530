import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { CodedError, isSandboxEventType } from '@app/domain';
import type { SandboxEventType } from '@app/domain';
import { DataSource, EntityManager, In } from 'typeorm';
import { SandboxEventEntity } from '../db/entities/sandbox-event.entity';
import { WebhookAttemptEntity } from '../db/entities/webhook-attempt.entity';
import { WebhookDeliveryEntity } from '../db/entities/webhook-delivery.entity';
import { WebhookEntity } from '../db/entities/webhook.entity';
import { SecretsKeyring } from '../secrets/secrets-keyring';
import { DbGate } from '../store/db-gate';
import { placeholders, rawQuery } from './raw-sql';
import type {
  AttemptOutcome,
  ClaimedDelivery,
  DeliveryStatus,
  DeliveryView,
  NewWebhook,
  WebhookInfo,
} from './webhook-types';

/** The name a webhook's secret is sealed under (bound to the webhook's id, like env values). */
const SECRET_NAME = 'webhook-secret';

/** Which webhooks a caller sees: a tenant only its own; undefined: all. */
export type WebhookScope = { tenant?: string };

/**
 * The webhooks' tables: endpoints, the deliveries fanned out of the event log, and their
 * attempts. Every step that more than one replica may race on is a conditional write: fan-out
 * advances a webhook's cursor only from the value it read (so each event becomes one delivery
 * per webhook), a claim takes a delivery's lease only if it is free, and an outcome is recorded
 * only under the lease that made the attempt.
 */
@Injectable()
export class WebhookStore {
  private readonly gate: DbGate;

  constructor(
    @InjectDataSource() dataSource: DataSource,
    private readonly keyring: SecretsKeyring,
  ) {
    this.gate = new DbGate(dataSource);
  }

  /** Stores the webhook, sealed, receiving the events committed from now on. */
  create(webhook: NewWebhook, now = Date.now()): Promise<WebhookInfo> {
    return this.gate.run(async (manager) => {
      const raw = await manager
        .createQueryBuilder(SandboxEventEntity, 'e')
        .select('MAX(e.id)', 'max')
        .getRawOne<{ max: number | string | null }>();
      const row: WebhookEntity = {
        id: webhook.id,
        url: webhook.url,
        events: webhook.events === null ? null : JSON.stringify(webhook.events),
        description: webhook.description,
        sealedSecret: this.keyring.seal(webhook.id, SECRET_NAME, webhook.secret),
        tenant: webhook.tenant,
        cursor: Number(raw?.max ?? 0),
        createdAt: now,
      };
      await manager.insert(WebhookEntity, row);
      return infoOf(row);
    });
  }

  list(scope: WebhookScope = {}): Promise<WebhookInfo[]> {
    return this.gate.run(async (manager) => {
      const rows = await manager.find(WebhookEntity, {
        where: scope.tenant === undefined ? {} : { tenant: scope.tenant },
        order: { createdAt: 'ASC', id: 'ASC' },
      });
      return rows.map(infoOf);
    });
  }

  /** The webhook, or WEBHOOK_NOT_FOUND (also for another tenant's). */
  get(id: string, scope: WebhookScope = {}): Promise<WebhookInfo> {
    return this.gate.run(async (manager) => infoOf(await this.row(manager, id, scope)));
  }

  /** Removes the webhook with its deliveries and their attempts; WEBHOOK_NOT_FOUND if none. */
  delete(id: string, scope: WebhookScope = {}): Promise<void> {
    return this.gate.run(async (manager) => {
      await this.row(manager, id, scope);
      await manager.transaction(async (tx) => {
        await tx.delete(WebhookAttemptEntity, { webhookId: id });
        await tx.delete(WebhookDeliveryEntity, { webhookId: id });
        await tx.delete(WebhookEntity, { id });
      });
    });
  }

  /**
   * Turns the events committed after each webhook's cursor (at most `limit`) into its deliveries
   * and moves the cursor past them, all in one transaction; a cursor moves only from the value
   * read, so a replica racing on the same webhook changes nothing for it instead of doubling a
   * delivery. `payloadOf` renders an event row's body. Returns the deliveries made. When no
   * webhook is behind the log this is one indexed query.
   */
  fanOut(
    limit: number,
    payloadOf: (event: { id: number; type: string; payload: string }) => string,
    now = Date.now(),
  ): Promise<number> {
    return this.gate.run(async (manager) => {
      const behind = await rawQuery<BehindRow>(
        manager,
        `SELECT "id", "cursor", "events", "tenant" FROM "webhook" WHERE "cursor" < (SELECT COALESCE(MAX("id"), 0) FROM "sandbox_event")`,
        [],
      );
      if (behind.length === 0) return 0;
      return manager.transaction(async (tx) => {
        const from = Math.min(...behind.map((webhook) => Number(webhook.cursor)));
        const events = await rawQuery<EventRow>(
          tx,
          `SELECT "id", "type", "sandbox_id", "tenant", "payload" FROM "sandbox_event" WHERE "id" > $1 ORDER BY "id" LIMIT $2`,
          [from, limit],
        );
        if (events.length === 0) return 0;
        const last = Number(events[events.length - 1].id);
        const rows: unknown[][] = [];
        for (const webhook of behind) {
          const cursor = Number(webhook.cursor);
          if (last <= cursor) continue;
          const moved = await rawQuery<{ id: string }>(
            tx,
            `UPDATE "webhook" SET "cursor" = $1 WHERE "id" = $2 AND "cursor" = $3 RETURNING "id"`,
            [last, webhook.id, cursor],
          );
          if (moved.length !== 1) continue;
          const types = typesOf(webhook.events);
          for (const event of events) {
            const id = Number(event.id);
            if (id <= cursor) continue;
            if (webhook.tenant !== null && event.tenant !== webhook.tenant) continue;
            if (types !== null && !types.includes(event.type as SandboxEventType)) continue;
            const body = payloadOf({ id, type: event.type, payload: event.payload });
            rows.push([webhook.id, id, event.sandbox_id, event.type, body, now, now]);
          }
        }
        for (let i = 0; i < rows.length; i += 100) {
          const batch = rows.slice(i, i + 100);
          const values = batch
            .map((_, n) => {
              const p = n * 7;
              return `($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}, 'pending', 0, $${p + 6}, NULL, NULL, $${p + 7})`;
            })
            .join(', ');
          await rawQuery(
            tx,
            `INSERT INTO "webhook_delivery" ("webhook_id", "event_id", "sandbox_id", "event_type", "payload", "status", "attempts", "next_attempt_at", "lease_until", "lease_token", "created_at") VALUES ${values}`,
            batch.flat(),
          );
        }
        return rows.length;
      });
    });
  }

  /** A delivery of `payload` outside the log (POST /v1/webhooks/:id/test), due now. */
  enqueue(
    webhookId: string,
    eventType: string,
    payload: string,
    now = Date.now(),
  ): Promise<string> {
    return this.gate.run(async (manager) => {
      const result = await manager.insert(WebhookDeliveryEntity, {
        webhookId,
        eventId: null,
        sandboxId: '',
        eventType,
        payload,
        status: 'pending',
        attempts: 0,
        nextAttemptAt: now,
        leaseUntil: null,
        leaseToken: null,
        createdAt: now,
      });
      return String((result.identifiers[0] as { id: unknown }).id);
    });
  }

  /**
   * Claims up to `limit` deliveries for one attempt each, under `token`: due now, lease free, and
   * first in line for their webhook and sandbox (no earlier one of the pair still pending), oldest
   * first, at most `room(webhook)` per webhook (a slow receiver's backlog never takes the slots of
   * the others). The claim is one conditional UPDATE: a delivery another replica took meanwhile
   * is not taken again, so exactly one replica makes each attempt. The attempt count moves with
   * the lease, so an attempt a killed replica never finished still counts. Each claimed delivery
   * comes with its webhook's URL and opened secret.
   */
  claimDue(
    token: string,
    leaseMs: number,
    limit: number,
    room: (webhookId: string) => number,
    now = Date.now(),
  ): Promise<ClaimedDelivery[]> {
    return this.gate.run(async (manager) => {
      const candidates = await rawQuery<{ id: string | number; webhook_id: string }>(
        manager,
        `SELECT "d"."id", "d"."webhook_id" FROM "webhook_delivery" "d" WHERE "d"."status" = 'pending' AND "d"."next_attempt_at" <= $1 AND ("d"."lease_until" IS NULL OR "d"."lease_until" < $2) AND NOT EXISTS (SELECT 1 FROM "webhook_delivery" "p" WHERE "p"."webhook_id" = "d"."webhook_id" AND "p"."sandbox_id" = "d"."sandbox_id" AND "p"."status" = 'pending' AND "p"."id" < "d"."id") ORDER BY "d"."id" LIMIT $3`,
        [now, now, limit * 4],
      );
      const taken = new Map<string, number>();
      const ids: number[] = [];
      for (const candidate of candidates) {
        if (ids.length >= limit) break;
        const used = taken.get(candidate.webhook_id) ?? 0;
        if (used >= room(candidate.webhook_id)) continue;
        taken.set(candidate.webhook_id, used + 1);
        ids.push(Number(candidate.id));
      }
      if (ids.length === 0) return [];
      const claimed = await rawQuery<ClaimedRow>(
        manager,
        `UPDATE "webhook_delivery" SET "lease_until" = $1, "lease_token" = $2, "attempts" = "attempts" + 1 WHERE "id" IN (${placeholders(3, ids.length)}) AND "status" = 'pending' AND ("lease_until" IS NULL OR "lease_until" < $${ids.length + 3}) RETURNING "id", "webhook_id", "event_id", "event_type", "payload", "attempts", "created_at"`,
        [now + leaseMs, token, ...ids, now],
      );
      if (claimed.length === 0) return [];
      const hooks = await rawQuery<{ id: string; url: string; sealed_secret: string }>(
        manager,
        `SELECT "id", "url", "sealed_secret" FROM "webhook" WHERE "id" IN (${placeholders(1, taken.size)})`,
        [...taken.keys()],
      );
      const byId = new Map(hooks.map((hook) => [hook.id, hook]));
      return claimed
        .sort((a, b) => Number(a.id) - Number(b.id))
        .flatMap((row) => {
          const hook = byId.get(row.webhook_id);
          // Deleted meanwhile: its deliveries go with it.
          if (hook === undefined) return [];
          return [
            {
              id: Number(row.id),
              webhookId: row.webhook_id,
              url: hook.url,
              secret: this.keyring.open(hook.id, SECRET_NAME, hook.sealed_secret),
              eventId: row.event_id === null ? null : Number(row.event_id),
              eventType: row.event_type,
              payload: row.payload,
              attempt: Number(row.attempts),
              createdAt: Number(row.created_at),
              leaseToken: token,
            },
          ];
        });
    });
  }

  /**
   * Records the attempt and the delivery's next state, in one transaction, only while `token`
   * still holds the lease (a replica whose lease expired mid-attempt records nothing: the next
   * holder's attempt counts instead). Returns whether it was recorded.
   */
  finish(delivery: ClaimedDelivery, outcome: AttemptOutcome): Promise<boolean> {
    return this.gate.run((manager) =>
      manager.transaction(async (tx) => {
        const updated = await rawQuery<{ id: string }>(
          tx,
          `UPDATE "webhook_delivery" SET "status" = $1, "next_attempt_at" = $2, "lease_until" = NULL, "lease_token" = NULL WHERE "id" = $3 AND "lease_token" = $4 RETURNING "id"`,
          [outcome.status, outcome.nextAttemptAt ?? outcome.at, delivery.id, delivery.leaseToken],
        );
        if (updated.length !== 1) return false;
        await rawQuery(
          tx,
          `INSERT INTO "webhook_attempt" ("delivery_id", "webhook_id", "attempt", "at", "status_code", "error", "duration_ms") VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [
            delivery.id,
            delivery.webhookId,
            delivery.attempt,
            outcome.at,
            outcome.statusCode,
            outcome.error === null ? null : outcome.error.slice(0, 512),
            Math.round(outcome.durationMs),
          ],
        );
        return true;
      }),
    );
  }

  /** The webhook's newest deliveries first, each with its attempts in order. */
  deliveries(webhookId: string, limit: number, scope: WebhookScope = {}): Promise<DeliveryView[]> {
    return this.gate.run(async (manager) => {
      await this.row(manager, webhookId, scope);
      const rows = await manager.find(WebhookDeliveryEntity, {
        where: { webhookId },
        order: { id: 'DESC' },
        take: limit,
      });
      const ids = rows.map((row) => String(row.id));
      const attempts =
        ids.length === 0
          ? []
          : await manager.find(WebhookAttemptEntity, {
              where: { deliveryId: In(ids.map(Number)) },
              order: { id: 'ASC' },
            });
      return rows.map((row) => ({
        id: String(row.id),
        eventId: row.eventId === null ? null : String(row.eventId),
        eventType: row.eventType,
        status: row.status as DeliveryStatus,
        attempts: attempts
          .filter((attempt) => Number(attempt.deliveryId) === Number(row.id))
          .map((attempt) => ({
            attempt: attempt.attempt,
            at: new Date(attempt.at).toISOString(),
            statusCode: attempt.statusCode,
            error: attempt.error,
            durationMs: attempt.durationMs,
          })),
        nextAttemptAt: row.status === 'pending' ? new Date(row.nextAttemptAt).toISOString() : null,
        createdAt: new Date(row.createdAt).toISOString(),
      }));
    });
  }

  /** Deletes up to `batch` finished deliveries (and their attempts) created before `before`. */
  pruneFinished(before: number, batch: number): Promise<number> {
    return this.gate.run(async (manager) => {
      const rows = await manager
        .createQueryBuilder(WebhookDeliveryEntity, 'd')
        .select('d.id', 'id')
        .where("d.status <> 'pending' AND d.createdAt < :before", { before })
        .orderBy('d.id', 'ASC')
        .limit(batch)
        .getRawMany<{ id: number | string }>();
      if (rows.length === 0) return 0;
      const ids = rows.map((row) => Number(row.id));
      await manager.transaction(async (tx) => {
        await tx.delete(WebhookAttemptEntity, { deliveryId: In(ids) });
        await tx.delete(WebhookDeliveryEntity, { id: In(ids.map(String)) });
      });
      return ids.length;
    });
  }

  private async row(
    manager: EntityManager,
    id: string,
    scope: WebhookScope,
  ): Promise<WebhookEntity> {
    const row = await manager.findOneBy(WebhookEntity, { id });
    if (row === null || (scope.tenant !== undefined && row.tenant !== scope.tenant)) {
      throw new CodedError('WEBHOOK_NOT_FOUND', `webhook ${id} does not exist`, { webhookId: id });
    }
    return row;
  }
}

interface BehindRow {
  id: string;
  cursor: string | number;
  events: string | null;
  tenant: string | null;
}

interface EventRow {
  id: string | number;
  type: string;
  sandbox_id: string;
  tenant: string | null;
  payload: string;
}

interface ClaimedRow {
  id: string | number;
  webhook_id: string;
  event_id: string | number | null;
  event_type: string;
  payload: string;
  attempts: string | number;
  created_at: string | number;
}

function typesOf(stored: string | null): SandboxEventType[] | null {
  if (stored === null) return null;
  const parsed = JSON.parse(stored) as unknown;
  return Array.isArray(parsed)
    ? parsed.filter(
        (type): type is SandboxEventType => typeof type === 'string' && isSandboxEventType(type),
      )
    : null;
}

function infoOf(row: WebhookEntity): WebhookInfo {
  return {
    id: row.id,
    url: row.url,
    events: typesOf(row.events),
    description: row.description,
    tenant: row.tenant,
    createdAt: new Date(row.createdAt).toISOString(),
  };
}
