import { randomBytes } from 'node:crypto';
import { isCodedError } from '@app/domain';
import type { Duplex } from 'node:stream';
import type Dockerode from 'dockerode';
import { EXEC_MARKER_ENV, execCreateOptions } from './exec-request';
import { withEngineBound } from './engine-bounds';
import { execEngineError, execFailed } from './exec-errors';
import { ExecFrameDecoder } from './exec-frames';
import type { ExecRequest } from './exec-types';
import { OutputCap } from './output-cap';
import { StartFailureProbe } from './start-failure';

/**
 * One running exec: its output decoded and capped as it arrives, its timeout, its cancellation.
 * Shared by the buffered and the streaming API, so both kill the same way.
 */

export type OutputStream = 'stdout' | 'stderr';
export type OutputSink = (stream: OutputStream, data: Buffer) => void;

/** What the killer needs to find the exec's processes again. */
export interface ExecTarget {
  docker: Dockerode;
  containerId: string;
  exec: Dockerode.Exec;
  /** `NAME=value` every process of this exec has in its environment. */
  markerAssignment: string;
  user: string | undefined;
}

export type ProcessKiller = (target: ExecTarget) => Promise<void>;

export interface ExecOutcome {
  exitCode: number | null;
  timedOut: boolean;
  /** Ended by cancel() or the caller's AbortSignal. */
  cancelled: boolean;
  truncated: boolean;
  durationMs: number;
}

export interface SessionOptions {
  signal?: AbortSignal;
  /** null: just drop the connection on timeout (for the killer's own short execs). */
  killer: ProcessKiller | null;
  /** Bound of creating and of attaching the exec (DOCKER_EXEC_START_TIMEOUT_SECONDS). */
  startBoundMs?: number;
}

/** DOCKER_EXEC_START_TIMEOUT_SECONDS's default, for execs started without the config at hand. */
export const DEFAULT_EXEC_START_BOUND_MS = 30_000;

/** How long output may keep flowing after the kill before the connection is dropped. */
const KILL_GRACE_MS = 3_000;
/** How long to wait for the engine to record the exit code once the output has ended. */
const EXIT_WAIT_MS = 2_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class ExecSession {
  readonly done: Promise<ExecOutcome>;
  private readonly decoder = new ExecFrameDecoder();
  private readonly caps: Record<OutputStream, OutputCap>;
  private readonly probe = new StartFailureProbe();
  private ending: 'timeout' | 'cancel' | 'fail' | null = null;
  private failure: unknown = null;
  private closed = false;
  private readonly timer: NodeJS.Timeout;
  private graceTimer: NodeJS.Timeout | undefined;
  private readonly onAbort = (): void => this.cancel();

  private constructor(
    /** What a killer needs to find this exec's processes. */
    readonly target: ExecTarget,
    private readonly socket: Duplex,
    private readonly sink: OutputSink,
    request: ExecRequest,
    private readonly startedAt: number,
    private readonly options: SessionOptions,
  ) {
    this.caps = {
      stdout: new OutputCap(request.outputLimitBytes),
      stderr: new OutputCap(request.outputLimitBytes),
    };
    this.done = new Promise<ExecOutcome>((resolve, reject) => {
      socket.once('close', () => {
        this.finish().then(resolve, reject);
      });
    });
    // Errors end in 'close'; a listener keeps them from being thrown as unhandled.
    socket.on('error', () => undefined);
    // A sink that throws (a bug) must not escape from the socket's 'data' event and crash the
    // process: it ends this exec instead, and its request fails with that error.
    socket.on('data', (chunk: Buffer) => {
      try {
        this.receive(chunk);
      } catch (error) {
        this.fail(error);
      }
    });
    this.timer = setTimeout(() => this.end('timeout'), request.timeoutMs);
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (options.signal?.aborted) this.cancel();
    if (request.stdin !== undefined) socket.end(request.stdin);
  }

  /** Creates and starts the exec; resolves once the process runs (or failed to start). */
  static async start(
    docker: Dockerode,
    containerId: string,
    request: ExecRequest,
    sink: OutputSink,
    options: SessionOptions,
  ): Promise<ExecSession> {
    options.signal?.throwIfAborted();
    // The caller's AbortSignal is not passed to the engine calls on purpose: an exec aborted while
    // starting could run on unseen. An abort meanwhile is seen by the constructor, which then kills
    // the fresh process. Only the bound aborts them (ENGINE_TIMEOUT): an engine that does not
    // answer must not hold the caller forever, and the marker lets a late process be killed.
    const bound = {
      kind: 'execStart',
      boundMs: options.startBoundMs ?? DEFAULT_EXEC_START_BOUND_MS,
      target: containerId,
    } as const;
    const marker = randomBytes(12).toString('hex');
    const createOptions = execCreateOptions(request, marker);
    const markerAssignment = `${EXEC_MARKER_ENV}=${marker}`;
    let exec: Dockerode.Exec;
    let socket: Duplex;
    try {
      exec = await withEngineBound(bound, (abortSignal) =>
        docker.getContainer(containerId).exec({ ...createOptions, abortSignal }),
      );
    } catch (error) {
      throw execEngineError(error, containerId, `could not create an exec in ${containerId}`);
    }
    const startedAt = Date.now();
    const target = { docker, containerId, exec, markerAssignment, user: request.user };
    try {
      const stdin = request.stdin !== undefined;
      socket = await withEngineBound(bound, (abortSignal) =>
        exec.start({ hijack: true, stdin, abortSignal }),
      );
    } catch (error) {
      // Cut off at the bound, the process may have started all the same: best-effort kill.
      if (options.killer && isCodedError(error, 'ENGINE_TIMEOUT')) {
        void options.killer(target).catch(() => undefined);
      }
      throw execEngineError(error, containerId, `could not start an exec in ${containerId}`);
    }
    return new ExecSession(target, socket, sink, request, startedAt, options);
  }

  /** Kills the process tree (if still running) and ends the session; harmless when done. */
  cancel(): void {
    this.end('cancel');
  }

  /**
   * Kills the process tree and makes `done` reject with `error` (the output budget ran out, a sink
   * failed). Output still arriving meanwhile is dropped. Harmless once the session has ended.
   */
  fail(error: unknown): void {
    if (this.closed || this.ending !== null) return;
    this.failure = error;
    this.end('fail');
  }

  /**
   * Stops reading the output (the process blocks on its full pipe) until resume(): how a slow
   * consumer of a stream holds back a fast producer instead of the output piling up here.
   */
  pause(): void {
    if (this.ending === null) this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  private receive(chunk: Buffer): void {
    for (const part of this.decoder.push(chunk)) {
      // Unframed (raw) bytes are judged like stdout: an engine error, or else plain output.
      if (part.kind === 'stderr') {
        this.emit('stdout', this.probe.release());
        this.emit('stderr', [part.data]);
      } else {
        this.emit('stdout', this.probe.offer(part.data));
      }
    }
  }

  private emit(stream: OutputStream, chunks: Buffer[]): void {
    if (this.ending === 'fail') return;
    for (const chunk of chunks) {
      const kept = this.caps[stream].take(chunk);
      if (kept.length > 0) this.sink(stream, kept);
    }
  }

  private end(reason: 'timeout' | 'cancel' | 'fail'): void {
    if (this.closed || this.ending !== null) return;
    this.ending = reason;
    clearTimeout(this.timer);
    // A paused socket would hold the end of the output back until the grace timer.
    this.socket.resume();
    void this.killThenDrop();
  }

  /**
   * The output only ends once every process holding its pipes is gone, which is what the kill
   * achieves; should it fail, the connection is dropped anyway so that no caller hangs.
   */
  private async killThenDrop(): Promise<void> {
    if (this.options.killer) {
      try {
        await this.options.killer(this.target);
      } catch {
        // The killer reports its own failures; the connection must be dropped regardless.
      }
      if (this.closed) return;
      this.graceTimer = setTimeout(() => this.socket.destroy(), KILL_GRACE_MS);
    } else {
      this.socket.destroy();
    }
  }

  private async finish(): Promise<ExecOutcome> {
    this.closed = true;
    const durationMs = Date.now() - this.startedAt;
    clearTimeout(this.timer);
    clearTimeout(this.graceTimer);
    this.options.signal?.removeEventListener('abort', this.onAbort);
    if (this.ending === 'fail') throw this.failure;
    const exitCode = await this.exitCode(this.ending === null ? EXIT_WAIT_MS : EXIT_WAIT_MS / 4);
    const engineText = this.probe.engineText();
    if (engineText !== null && this.ending === null && (exitCode === 126 || exitCode === 127)) {
      throw execFailed(this.target.containerId, engineText);
    }
    this.emit('stdout', this.probe.release());
    return {
      exitCode,
      timedOut: this.ending === 'timeout',
      cancelled: this.ending === 'cancel',
      truncated: this.caps.stdout.truncated || this.caps.stderr.truncated,
      durationMs,
    };
  }

  /**
   * The engine records the exit code a moment after the output ends; null if it still says
   * running by the deadline (a tree that survived a failed kill).
   */
  private async exitCode(waitMs: number): Promise<number | null> {
    const deadline = Date.now() + waitMs;
    for (let delay = 0; ; delay = Math.min(Math.max(delay * 2, 5), 100)) {
      if (delay > 0) await sleep(delay);
      let info: Dockerode.ExecInspectInfo;
      try {
        info = await this.target.exec.inspect();
      } catch (error) {
        throw execEngineError(error, this.target.containerId, 'could not read the exit code');
      }
      if (!info.Running) return info.ExitCode;
      if (Date.now() >= deadline) return null;
    }
  }
}
