import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { describeError, SandboxEventRecord, SandboxEventType } from '@app/domain';
import { SandboxEventLog } from '@app/meta-store';
import { SandboxEvents } from '../sandbox-events';

/** How often a process with followers looks for events other replicas committed. */
export const EVENT_POLL_MS = 500;

export interface EventQuery {
  /** Events after this id (exclusive); 0 or absent: from the oldest kept. */
  afterId?: number;
  types?: readonly SandboxEventType[];
  sandboxId?: string;
  /** A tenant key's view: only its tenant's events. */
  tenant?: string;
  limit: number;
}

export interface EventPage {
  items: SandboxEventRecord[];
  /**
   * Where the next page starts (pass it back as `after`): the last id of this page, or the
   * cursor asked with when nothing matched.
   */
  next: string;
}

/**
 * The event log for readers: pages (GET /v1/events) and live follows (its SSE stream). Every
 * replica reads the one table, so each streams every event, whichever replica committed it.
 * Followers wait on one shared watch per process: local commits wake it at once, other replicas'
 * within EVENT_POLL_MS (one `MAX(id)` query per interval, however many followers). Ids commit in
 * order (see SandboxEventLog), so once id N is visible every smaller id is settled: a follower
 * that has read past N never needs to look below it again, and none is missed or repeated.
 */
@Injectable()
export class EventFeed implements OnModuleDestroy {
  private readonly logger = new Logger(EventFeed.name);
  /** The newest id seen committed (a hint: readers query the log itself). */
  private latest = 0;
  private readonly waiters = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly log: SandboxEventLog,
    events: SandboxEvents,
  ) {
    this.unsubscribe = events.subscribe((event) => this.saw(Number(event.id)));
  }

  onModuleDestroy(): void {
    this.unsubscribe();
    this.stopTimer();
    for (const wake of this.waiters) wake();
  }

  async page(query: EventQuery): Promise<EventPage> {
    const items = await this.log.list(query);
    return { items, next: items.at(-1)?.id ?? String(query.afterId ?? 0) };
  }

  /** The id of the newest committed event (a stream that starts "now" starts after it). */
  async latestId(): Promise<number> {
    this.saw(await this.log.latestId());
    return this.latest;
  }

  /**
   * The events matching the query from `afterId` on, as they commit, until the signal aborts.
   * Between pages it waits for the log to move past what it has read.
   */
  async *follow(query: EventQuery, signal: AbortSignal): AsyncGenerator<SandboxEventRecord> {
    let cursor = query.afterId ?? 0;
    while (!signal.aborted) {
      // Every id up to this horizon had committed before the read below: none is looked for again.
      const horizon = this.latest;
      const items = await this.log.list({ ...query, afterId: cursor });
      for (const item of items) {
        if (signal.aborted) return;
        yield item;
      }
      cursor = Number(items.at(-1)?.id ?? cursor);
      if (items.length === query.limit) continue;
      await this.waitBeyond(Math.max(cursor, horizon), signal);
    }
  }

  /** Resolves once an event newer than `id` may have committed, or the signal aborted. */
  private waitBeyond(id: number, signal: AbortSignal): Promise<void> {
    if (this.latest > id || signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.waiters.delete(check);
        signal.removeEventListener('abort', done);
        if (this.waiters.size === 0) this.stopTimer();
        resolve();
      };
      const check = (): void => {
        if (this.latest > id || signal.aborted) done();
      };
      this.waiters.add(check);
      signal.addEventListener('abort', done, { once: true });
      this.startTimer();
    });
  }

  private saw(id: number): void {
    if (!(id > this.latest)) return;
    this.latest = id;
    for (const check of [...this.waiters]) check();
  }

  private startTimer(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.poll(), EVENT_POLL_MS);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      this.saw(await this.log.latestId());
    } catch (error) {
      // The store is down: followers keep waiting, and the next tick tries again.
      this.logger.warn(`event log not read: ${describeError(error)}`);
    } finally {
      this.polling = false;
    }
  }
}
