import { randomUUID } from 'node:crypto';
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { describeError } from '@app/domain';
import { ClaimedDelivery, WebhookStore } from '@app/meta-store';
import { nextAttemptAt } from './delivery-schedule';
import { WebhookPolicy } from './webhook-policy';
import { sendWebhook } from './webhook-sender';
import { eventBody, messageIdOf, signedHeaders } from './webhook-signing';

/** Attempts in flight in this process, over all webhooks. */
export const MAX_IN_FLIGHT = 32;
/** Attempts in flight to one webhook: a slow one holds at most this many of the slots. */
export const MAX_IN_FLIGHT_PER_WEBHOOK = 4;
/** How often the log and the due deliveries are looked at when nothing woke the worker. */
export const IDLE_POLL_MS = 1000;
/**
 * How long a wake waits before its pass: the commits of a burst (a create's insert, its start)
 * share one pass, and the command that committed answers its caller before the pass takes the
 * database (on SQLite, one connection) and the event loop.
 */
export const WAKE_DELAY_MS = 25;
/** Events turned into deliveries per webhook per pass. */
const FAN_OUT_BATCH = 500;

/**
 * Delivers webhooks, off every command's path: the event log is the queue. Each pass turns newly
 * committed events into deliveries (WebhookStore.fanOut: one per event and webhook, whatever the
 * replicas do), then claims due deliveries (a conditional lease: exactly one replica makes each
 * attempt) and sends each without waiting for the others. A process killed mid-attempt leaves a
 * lease that expires and the attempt is made again: at least once. A replica's pass is woken by
 * its own commits (the webhooks extension subscribes to them) and otherwise runs every
 * IDLE_POLL_MS, so other replicas' events are seen within a second.
 */
@Injectable()
export class DeliveryWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DeliveryWorker.name);
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly perWebhook = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;
  private running = false;
  private again = false;
  private stopped = true;

  constructor(
    private readonly store: WebhookStore,
    private readonly policy: WebhookPolicy,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.policy.enabled) return;
    this.stopped = false;
    this.schedule(0);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    // Attempts under way finish (each is bounded by its timeout); unfinished ones' leases expire.
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Runs a pass soon (an event was committed, or a slot came free). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(WAKE_DELAY_MS);
  }

  /** Runs the next pass in `ms`, or sooner if one is already due sooner. */
  private schedule(ms: number): void {
    if (this.stopped) return;
    const at = Date.now() + ms;
    if (this.timer !== null) {
      if (this.timerAt <= at) return;
      clearTimeout(this.timer);
    }
    this.timerAt = at;
    this.timer = setTimeout(() => void this.pass(), ms);
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    this.timer = null;
    if (this.running || this.stopped) return;
    this.running = true;
    this.again = false;
    try {
      await this.store.fanOut(FAN_OUT_BATCH, eventBody);
      await this.claimDue();
    } catch (error) {
      this.logger.warn(`webhook pass failed: ${describeError(error)}`);
    } finally {
      this.running = false;
      this.schedule(this.again ? WAKE_DELAY_MS : IDLE_POLL_MS);
    }
  }

  private async claimDue(): Promise<void> {
    const free = MAX_IN_FLIGHT - this.inFlight.size;
    if (free <= 0 || this.stopped) return;
    const claimed = await this.store.claimDue(
      randomUUID(),
      this.policy.leaseMs,
      free,
      (webhookId) => MAX_IN_FLIGHT_PER_WEBHOOK - (this.perWebhook.get(webhookId) ?? 0),
    );
    for (const delivery of claimed) this.start(delivery);
  }

  private start(delivery: ClaimedDelivery): void {
    const hook = delivery.webhookId;
    this.perWebhook.set(hook, (this.perWebhook.get(hook) ?? 0) + 1);
    const attempt = this.attempt(delivery)
      .catch((error: unknown) =>
        this.logger.warn(`delivery ${delivery.id} not recorded: ${describeError(error)}`),
      )
      .finally(() => {
        this.inFlight.delete(delivery.id);
        const left = (this.perWebhook.get(hook) ?? 1) - 1;
        if (left === 0) this.perWebhook.delete(hook);
        else this.perWebhook.set(hook, left);
        // The next of this sandbox's deliveries may be due now: look again.
        this.wake();
      });
    this.inFlight.set(delivery.id, attempt);
  }

  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    const sentAt = new Date();
    const headers = signedHeaders(delivery.secret, messageIdOf(delivery), delivery.payload, sentAt);
    const result = await sendWebhook(new URL(delivery.url), headers, delivery.payload, {
      timeoutMs: this.policy.timeoutMs,
      allowPrivate: this.policy.allowPrivate,
    });
    const at = Date.now();
    const ok = result.error === null;
    const next = ok ? null : nextAttemptAt(this.policy.retryScheduleMs, delivery.attempt, at);
    await this.store.finish(delivery, {
      at: sentAt.getTime(),
      statusCode: result.statusCode,
      error: result.error,
      durationMs: result.durationMs,
      status: ok ? 'succeeded' : next === null ? 'failed' : 'pending',
      nextAttemptAt: next,
    });
    if (next !== null) this.schedule(Math.min(IDLE_POLL_MS, Math.max(0, next - Date.now())));
  }
}
