import { describeError } from '@app/domain';
import { Logger } from '@nestjs/common';
import type Dockerode from 'dockerode';
import { Readable } from 'node:stream';
import {
  CONTAINER_EVENT_ACTIONS,
  LineSplitter,
  parseEventLine,
  type ContainerEvent,
} from './container-events';
import { ownedLabelFilters } from './labels';
import type { OwnedFilter } from './types';

/** May return a promise; a rejection is logged, never left unhandled. */
export type ContainerEventHandler = (event: ContainerEvent) => void | Promise<void>;
/** Called on every (re)connect: events may have been missed while there was no stream. */
export type ResyncHandler = () => void | Promise<void>;

export interface EventStreamOptions {
  /** Narrows the stream to one instance's (or one sandbox's) containers, by label. */
  filter?: OwnedFilter;
  /** First reconnect delay; doubled after each failed attempt up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/** All the stream needs from dockerode, so tests can stand in for the engine. */
export interface EventSource {
  getEvents(options?: Dockerode.GetEventsOptions): Promise<NodeJS.ReadableStream>;
}

interface Connection {
  readonly controller: AbortController;
  stream: NodeJS.ReadableStream | null;
  openedAt: number | null;
}

/**
 * Follows the engine's container events (die, oom, destroy of our containers) for as long as it
 * is started. The stream ends whenever the engine restarts or the socket drops, and events sent
 * meanwhile are lost for good, so it reconnects with backoff and calls `onResync` after every
 * successful (re)subscription: the caller then compares the engine's state with its own. The
 * subscription comes first so nothing falls between the resync and the first event.
 */
export class ContainerEventStream {
  private readonly logger = new Logger(ContainerEventStream.name);
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private running = false;
  private connection: Connection | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private backoffMs: number;
  /** Failed attempts since the last good connection; only the first one is logged loudly. */
  private failures = 0;

  constructor(
    private readonly docker: EventSource,
    private readonly handler: ContainerEventHandler,
    private readonly onResync: ResyncHandler,
    private readonly options: EventStreamOptions = {},
  ) {
    this.minBackoffMs = options.minBackoffMs ?? 500;
    this.maxBackoffMs = Math.max(options.maxBackoffMs ?? 5_000, this.minBackoffMs);
    this.backoffMs = this.minBackoffMs;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Subscribes; a no-op while already started. May be called again after stop(). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.backoffMs = this.minBackoffMs;
    this.failures = 0;
    this.connect();
  }

  /** Ends the stream and cancels any pending reconnect; safe to call any number of times. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const connection = this.connection;
    this.connection = null;
    if (connection) this.close(connection);
  }

  private connect(): void {
    // open() handles its own failures; the catch is the last line against an unhandled rejection.
    this.open().catch((error: unknown) => {
      this.logger.error(`container event stream failed unexpectedly: ${describeError(error)}`);
    });
  }

  private async open(): Promise<void> {
    const connection: Connection = {
      controller: new AbortController(),
      stream: null,
      openedAt: null,
    };
    this.connection = connection;
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.docker.getEvents({
        filters: this.filters(),
        abortSignal: connection.controller.signal,
      });
    } catch (error) {
      this.lost(connection, `could not subscribe: ${describeError(error)}`);
      return;
    }
    connection.stream = stream;
    // stop() (or a newer connection) came while the request was on its way.
    if (this.connection !== connection) {
      this.close(connection);
      return;
    }
    connection.openedAt = Date.now();
    this.follow(connection, stream);
    if (this.failures > 0) {
      this.logger.log(`container event stream reconnected after ${this.failures} attempt(s)`);
    }
    this.failures = 0;
    this.resync();
  }

  private follow(connection: Connection, stream: NodeJS.ReadableStream): void {
    const lines = new LineSplitter();
    stream.on('data', (chunk: Buffer | string) => {
      if (this.connection !== connection) return;
      for (const line of lines.push(chunk)) this.dispatch(line);
    });
    stream.on('error', (error: unknown) => this.lost(connection, describeError(error)));
    stream.on('end', () => this.lost(connection, 'the engine ended it'));
    stream.on('close', () => this.lost(connection, 'the connection closed'));
  }

  private dispatch(line: string): void {
    const event = parseEventLine(line);
    if (event === null) {
      if (line.trim() !== '') this.logger.debug(`ignored event line: ${line.slice(0, 200)}`);
      return;
    }
    this.guard(() => this.handler(event), `handling ${event.action} of ${event.containerId}`);
  }

  private resync(): void {
    this.guard(() => this.onResync(), 'resync after (re)connecting to the event stream');
  }

  /** Runs a callback so that neither a throw nor a rejection escapes into the stream. */
  private guard(call: () => void | Promise<void>, what: string): void {
    const report = (error: unknown): void =>
      this.logger.error(`${what} failed: ${describeError(error)}`);
    try {
      const result = call();
      if (result instanceof Promise) result.catch(report);
    } catch (error) {
      report(error);
    }
  }

  /** The current connection is gone: schedule the next attempt (once per connection). */
  private lost(connection: Connection, reason: string): void {
    if (this.connection !== connection || !this.running) return;
    this.connection = null;
    this.close(connection);
    // A stream that lived a while was healthy: start over from the short delay. One that drops
    // right after connecting counts as a failure, so a flapping engine is not hammered.
    const lived = connection.openedAt === null ? 0 : Date.now() - connection.openedAt;
    if (lived >= this.maxBackoffMs) this.backoffMs = this.minBackoffMs;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.maxBackoffMs);
    this.failures += 1;
    const message = `container event stream lost (${reason}); reconnecting in ${delay} ms`;
    // An engine that is down for long would otherwise log every few seconds.
    if (this.failures === 1) this.logger.warn(message);
    else this.logger.debug(message);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.running) this.connect();
    }, delay);
    // A pending reconnect alone should not keep a process alive that is otherwise done.
    this.reconnectTimer.unref();
  }

  private close(connection: Connection): void {
    const { stream } = connection;
    // Aborting makes the response emit an AbortError, which must not go unheard (and thrown).
    stream?.on('error', () => undefined);
    connection.controller.abort();
    // The engine's response is an http.IncomingMessage; destroying it frees the socket at once.
    if (stream instanceof Readable) stream.destroy();
  }

  private filters(): NonNullable<Dockerode.GetEventsOptions['filters']> {
    return {
      type: ['container'],
      event: [...CONTAINER_EVENT_ACTIONS],
      label: ownedLabelFilters(this.options.filter),
    };
  }
}
