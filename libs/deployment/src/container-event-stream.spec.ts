import { Logger } from '@nestjs/common';
import type Dockerode from 'dockerode';
import { PassThrough } from 'node:stream';
import { ContainerEventStream, type EventSource } from './container-event-stream';
import type { ContainerEvent } from './container-events';
import { LABEL_INSTANCE, LABEL_MANAGED, LABEL_SANDBOX_ID } from './labels';

/** An engine whose event subscriptions the test opens, feeds, ends or refuses. */
class FakeEngine implements EventSource {
  readonly subscriptions: Array<{ options: Dockerode.GetEventsOptions; at: number }> = [];
  readonly streams: PassThrough[] = [];
  /** How many of the next subscriptions fail (engine down). */
  refuse = 0;
  /** Holds the next subscription until release() (a slow engine). */
  private held: (() => void) | null = null;
  hold = false;

  getEvents(options: Dockerode.GetEventsOptions = {}): Promise<NodeJS.ReadableStream> {
    this.subscriptions.push({ options, at: Date.now() });
    if (this.refuse > 0) {
      this.refuse -= 1;
      return Promise.reject(new Error('connect ECONNREFUSED /var/run/docker.sock'));
    }
    const stream = new PassThrough();
    this.streams.push(stream);
    if (!this.hold) return Promise.resolve(stream);
    return new Promise((resolve) => {
      this.held = () => resolve(stream);
    });
  }

  release(): void {
    this.held?.();
    this.held = null;
  }

  get current(): PassThrough {
    return this.streams[this.streams.length - 1];
  }
}

function line(action: string, sandboxId: string, exitCode?: number): string {
  const attributes: Record<string, string> = {
    [LABEL_MANAGED]: 'true',
    [LABEL_SANDBOX_ID]: sandboxId,
    [LABEL_INSTANCE]: 'i-1',
  };
  if (exitCode !== undefined) attributes.exitCode = String(exitCode);
  return `${JSON.stringify({ Type: 'container', Action: action, Actor: { ID: `c-${sandboxId}`, Attributes: attributes }, timeNano: Date.now() * 1e6 })}\n`;
}

async function until(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The reconnect delays the stream announced, in order. */
function plannedDelays(messages: string[]): number[] {
  return messages
    .map((message) => /reconnecting in (\d+) ms/.exec(message)?.[1])
    .filter((delay) => delay !== undefined)
    .map(Number);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('ContainerEventStream', () => {
  let engine: FakeEngine;
  let events: ContainerEvent[];
  let resyncs: number;
  let stream: ContainerEventStream;
  let logged: { warn: jest.SpyInstance; error: jest.SpyInstance };
  /** Every log line in order, whatever its level. */
  let messages: string[];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };

  beforeAll(() => process.on('unhandledRejection', onUnhandled));
  afterAll(() => process.off('unhandledRejection', onUnhandled));

  beforeEach(() => {
    engine = new FakeEngine();
    events = [];
    resyncs = 0;
    unhandled.length = 0;
    messages = [];
    const record = (message: unknown): void => {
      messages.push(String(message));
    };
    logged = {
      warn: jest.spyOn(Logger.prototype, 'warn').mockImplementation(record),
      error: jest.spyOn(Logger.prototype, 'error').mockImplementation(record),
    };
    jest.spyOn(Logger.prototype, 'log').mockImplementation(record);
    jest.spyOn(Logger.prototype, 'debug').mockImplementation(record);
    stream = new ContainerEventStream(
      engine,
      (event) => {
        events.push(event);
      },
      () => {
        resyncs += 1;
      },
      { filter: { instanceId: 'i-1' }, minBackoffMs: 20, maxBackoffMs: 80 },
    );
  });

  afterEach(() => {
    stream.stop();
    jest.restoreAllMocks();
    expect(unhandled).toEqual([]);
  });

  it('subscribes to die, oom and destroy of our containers, then asks for a resync', async () => {
    stream.start();
    await until(() => resyncs === 1);
    expect(engine.subscriptions[0].options.filters).toEqual({
      type: ['container'],
      event: ['die', 'oom', 'destroy'],
      label: [`${LABEL_MANAGED}=true`, `${LABEL_INSTANCE}=i-1`],
    });
    expect(engine.subscriptions[0].options.abortSignal).toBeInstanceOf(AbortSignal);
  });

  it('delivers events split across chunks and skips garbage lines', async () => {
    stream.start();
    await until(() => resyncs === 1);
    const text = `${line('die', 'sb-1', 137)}garbage\n${line('oom', 'sb-2')}`;
    engine.current.write(text.slice(0, 30));
    engine.current.write(text.slice(30, 100));
    engine.current.write(text.slice(100));
    await until(() => events.length === 2);
    expect(events.map((e) => [e.action, e.sandboxId, e.exitCode])).toEqual([
      ['die', 'sb-1', 137],
      ['oom', 'sb-2', null],
    ]);
  });

  it('reconnects and resyncs when the engine ends the stream', async () => {
    stream.start();
    await until(() => resyncs === 1);
    engine.current.end();
    await until(() => resyncs === 2);
    expect(engine.subscriptions).toHaveLength(2);
    engine.current.write(line('destroy', 'sb-3'));
    await until(() => events.length === 1);
    expect(events[0]).toMatchObject({ action: 'destroy', sandboxId: 'sb-3' });
    expect(logged.warn).toHaveBeenCalledWith(expect.stringMatching(/event stream lost/));
  });

  it('reconnects after a stream error', async () => {
    stream.start();
    await until(() => resyncs === 1);
    engine.current.destroy(new Error('socket hang up'));
    await until(() => resyncs === 2);
    expect(engine.subscriptions).toHaveLength(2);
  });

  it('retries a refused subscription with a growing, capped delay', async () => {
    engine.refuse = 4;
    stream.start();
    await until(() => resyncs === 1);
    expect(engine.subscriptions).toHaveLength(5);
    // The planned delays, from the log lines: 20, 40, 80, then capped at 80.
    const planned = plannedDelays(messages);
    expect(planned).toEqual([20, 40, 80, 80]);
    // Timers never fire early, so the real gaps are at least the planned delays.
    const at = engine.subscriptions.map((s) => s.at);
    at.slice(1).forEach((time, i) => expect(time - at[i]).toBeGreaterThanOrEqual(planned[i] - 2));
    // Only the first failure of a series is a warning; the rest would flood the log.
    expect(logged.warn).toHaveBeenCalledTimes(1);
  });

  it('starts over from the short delay once a connection has stayed up', async () => {
    engine.refuse = 2;
    stream.start();
    await until(() => resyncs === 1);
    // Up for longer than the longest delay: healthy, so the backoff resets.
    await sleep(100);
    engine.current.end();
    await until(() => resyncs === 2);
    const planned = plannedDelays(messages);
    expect(planned).toEqual([20, 40, 20]);
  });

  it('stop() ends the stream, cancels the pending reconnect and may be repeated', async () => {
    stream.start();
    await until(() => resyncs === 1);
    const first = engine.current;
    engine.refuse = 1;
    first.end();
    await until(() => engine.subscriptions.length === 2);
    stream.stop();
    stream.stop();
    await sleep(150);
    expect(engine.subscriptions).toHaveLength(2);
    expect(first.destroyed).toBe(true);
    expect(stream.isRunning).toBe(false);
  });

  it('closes a subscription that arrives after stop() without resyncing', async () => {
    engine.hold = true;
    stream.start();
    await until(() => engine.subscriptions.length === 1);
    stream.stop();
    engine.release();
    await sleep(30);
    expect(engine.current.destroyed).toBe(true);
    expect(resyncs).toBe(0);
  });

  it('delivers events again after stop() and start()', async () => {
    stream.start();
    await until(() => resyncs === 1);
    stream.stop();
    stream.start();
    await until(() => resyncs === 2);
    engine.current.write(line('die', 'sb-4', 0));
    await until(() => events.length === 1);
    expect(events[0]).toMatchObject({ action: 'die', exitCode: 0 });
  });

  it('logs failing callbacks instead of letting them escape', async () => {
    const failing = new ContainerEventStream(
      engine,
      (event) => {
        if (event.sandboxId === 'sync') throw new Error('handler threw');
        return Promise.reject(new Error('handler rejected'));
      },
      () => Promise.reject(new Error('resync rejected')),
      { minBackoffMs: 20 },
    );
    failing.start();
    try {
      await until(() => engine.subscriptions.length === 1 && logged.error.mock.calls.length === 1);
      engine.current.write(line('die', 'sync', 1) + line('die', 'async', 1));
      await until(() => logged.error.mock.calls.length === 3);
      const messages = logged.error.mock.calls.map((call) => String(call[0]));
      expect(messages).toEqual([
        expect.stringMatching(/resync .* failed: resync rejected/),
        expect.stringMatching(/handling die of c-sync failed: handler threw/),
        expect.stringMatching(/handling die of c-async failed: handler rejected/),
      ]);
    } finally {
      failing.stop();
    }
  });
});
