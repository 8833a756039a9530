import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { CodedError, isSandboxEventType } from '@app/domain';
import type { SandboxEventType } from '@app/domain';
import { Brackets, DataSource, EntityManager, In } from 'typeorm';
import { SandboxEventEntity } from '../db/entities/sandbox-event.entity';
import { WebhookAttemptEntity } from '../db/entities/webhook-attempt.entity';
import { WebhookDeliveryEntity } from '../db/entities/webhook-delivery.entity';
import { WebhookEntity } from '../db/entities/webhook.entity';
import { SecretsKeyring } from '../secrets/secrets-keyring';
import { DbGate } from '../store/db-gate';
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

  /** The secret deliveries are signed with (null once the webhook is gone). */
  secretOf(id: string): Promise<string | null> {
    return this.gate.run(async (manager) => {
      const row = await manager.findOneBy(WebhookEntity, { id });
      return row === null ? null : this.keyring.open(id, SECRET_NAME, row.sealedSecret);
    });
  }

  /**
   * Turns the events committed after each webhook's cursor (at most `limit` per webhook) into
   * its deliveries, and moves the cursor past them, in one transaction per webhook; the cursor
   * moves only from the value read, so a replica racing on the same webhook rolls back instead
   * of doubling a delivery. `payloadOf` renders an event row's body. Returns the deliveries made.
   */
  async fanOut(
    limit: number,
    payloadOf: (event: { id: number; type: string; payload: string }) => string,
    now = Date.now(),
  ): Promise<number> {
    const webhooks = await this.gate.run((manager) => manager.find(WebhookEntity));
    let made = 0;
    for (const webhook of webhooks) {
      made += await this.gate.run((manager) =>
        manager.transaction(async (tx) => {
          const types = typesOf(webhook.events);
          const qb = tx
            .createQueryBuilder(SandboxEventEntity, 'e')
            .select(['e.id', 'e.type', 'e.sandboxId', 'e.payload'])
            .where('e.id > :cursor', { cursor: webhook.cursor });
          if (webhook.tenant !== null)
            qb.andWhere('e.tenant = :tenant', { tenant: webhook.tenant });
          const events = await qb.orderBy('e.id', 'ASC').limit(limit).getMany();
          if (events.length === 0) return 0;
          const cursor = Number(events[events.length - 1].id);
          const moved = await tx
            .createQueryBuilder()
            .update(WebhookEntity)
            .set({ cursor })
            .where('id = :id AND cursor = :old', { id: webhook.id, old: webhook.cursor })
            .execute();
          if (moved.affected !== 1) return 0;
          const rows = events
            .filter((event) => types === null || types.includes(event.type as SandboxEventType))
            .map((event) => ({
              webhookId: webhook.id,
              eventId: Number(event.id),
              sandboxId: event.sandboxId,
              eventType: event.type,
              payload: payloadOf({
                id: Number(event.id),
                type: event.type,
                payload: event.payload,
              }),
              status: 'pending',
              attempts: 0,
              nextAttemptAt: now,
              leaseUntil: null,
              leaseToken: null,
              createdAt: now,
            }));
          for (let i = 0; i < rows.length; i += 100) {
            await tx.insert(WebhookDeliveryEntity, rows.slice(i, i + 100));
          }
          return rows.length;
        }),
      );
    }
    return made;
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
   * Deliveries due now whose lease is free and that are first in line for their webhook and
   * sandbox (no earlier one of the same pair is still pending), oldest first: the candidates a
   * worker may claim. Another replica may claim one first: `claim` says. `skip`: webhooks the
   * worker has no room for now, left out so that a backlog of theirs never crowds out the others.
   */
  due(
    now: number,
    limit: number,
    skip: readonly string[] = [],
  ): Promise<{ id: number; webhookId: string }[]> {
    return this.gate.run(async (manager) => {
      const qb = manager
        .createQueryBuilder(WebhookDeliveryEntity, 'd')
        .select('d.id', 'id')
        .addSelect('d.webhookId', 'webhookId')
        .where("d.status = 'pending'")
        .andWhere('d.nextAttemptAt <= :now', { now })
        .andWhere(
          new Brackets((free) =>
            free.where('d.leaseUntil IS NULL').orWhere('d.leaseUntil < :now', { now }),
          ),
        )
        .andWhere(
          `NOT EXISTS (SELECT 1 FROM "webhook_delivery" "p" WHERE "p"."webhook_id" = "d"."webhook_id" AND "p"."sandbox_id" = "d"."sandbox_id" AND "p"."status" = 'pending' AND "p"."id" < "d"."id")`,
        );
      if (skip.length > 0) qb.andWhere('d.webhookId NOT IN (:...skip)', { skip: [...skip] });
      const rows = await qb
        .orderBy('d.id', 'ASC')
        .limit(limit)
        .getRawMany<{ id: number | string; webhookId: string }>();
      return rows.map((row) => ({ id: Number(row.id), webhookId: row.webhookId }));
    });
  }

  /**
   * Takes the delivery's lease for one attempt if it is still pending and free: the conditional
   * UPDATE lets exactly one replica win it. The attempt count moves with the lease, so an attempt
   * a killed replica never finished still counts.
   */
  claim(
    id: number,
    token: string,
    leaseMs: number,
    now = Date.now(),
  ): Promise<ClaimedDelivery | null> {
    return this.gate.run(async (manager) => {
      const result = await manager
        .createQueryBuilder()
        .update(WebhookDeliveryEntity)
        .set({ leaseUntil: now + leaseMs, leaseToken: token, attempts: () => '"attempts" + 1' })
        .where("id = :id AND status = 'pending' AND (lease_until IS NULL OR lease_until < :now)", {
          id,
          now,
        })
        .execute();
      if (result.affected !== 1) return null;
      const row = await manager.findOneBy(WebhookDeliveryEntity, { id: String(id) });
      if (row === null || row.leaseToken !== token) return null;
      return {
        id,
        webhookId: row.webhookId,
        eventId: row.eventId,
        eventType: row.eventType,
        payload: row.payload,
        attempt: row.attempts,
        createdAt: row.createdAt,
        leaseToken: token,
      };
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
        const result = await tx
          .createQueryBuilder()
          .update(WebhookDeliveryEntity)
          .set({
            status: outcome.status,
            nextAttemptAt: outcome.nextAttemptAt ?? outcome.at,
            leaseUntil: null,
            leaseToken: null,
          })
          .where('id = :id AND lease_token = :token', {
            id: delivery.id,
            token: delivery.leaseToken,
          })
          .execute();
        if (result.affected !== 1) return false;
        await tx.insert(WebhookAttemptEntity, {
          deliveryId: delivery.id,
          webhookId: delivery.webhookId,
          attempt: delivery.attempt,
          at: outcome.at,
          statusCode: outcome.statusCode,
          error: outcome.error === null ? null : outcome.error.slice(0, 512),
          durationMs: Math.round(outcome.durationMs),
        });
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
