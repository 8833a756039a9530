import { Code, ConnectError, HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { ENVD_ACTOR } from './e2b-caller';
import { create } from '@bufbuild/protobuf';
import { ExecConfig } from '@app/config';
import { ENV_RULES, ExecEvent, SandboxWorkService, stringMapProblem } from '@app/sandbox';
import { connectErrorOf } from './e2b-errors';
import { sandboxIdOf, userOf } from './envd-request';
import {
  ConnectResponse,
  ConnectResponseSchema,
  Process,
  ProcessConfigSchema,
  ProcessInfo,
  ProcessInfoSchema,
  ProcessSelector,
  Signal,
  StartRequest,
  StartResponse,
  StartResponseSchema,
} from './gen/process/process_pb';
import { keepaliveIntervalMs, withKeepalive } from './keepalive';
import { LiveProcesses, ProcessOutput } from './live-processes';
import {
  CLOSE_STDIN_SCRIPT,
  FOLLOW_SCRIPT,
  INPUT_SCRIPT,
  LIST_SCRIPT,
  SIGNAL_SCRIPT,
  START_SCRIPT,
  WAIT_SCRIPT,
  mirrorCapBytes,
} from './process-scripts';

/** Largest SendInput the server takes at once (the SDK sends what the caller gives it). */
const MAX_INPUT_BYTES = 1024 * 1024;
const HELPER_TIMEOUT_SECONDS = 30;

interface StoredConfig {
  cmd: string;
  args: string[];
  envs: Record<string, string>;
  cwd?: string;
  tag?: string;
}

/**
 * envd's process service over `docker exec`: every Start is one exec of START_SCRIPT, whose
 * output is pumped to the caller (and to Connect callers on this replica) until the process
 * ends, whether or not its caller is still there. List, SendSignal, SendInput and CloseStdin are
 * short execs that find the process by its state in the container (process-scripts.ts).
 */
export class EnvdProcess {
  private readonly live = new LiveProcesses();
  /** Bytes of each mirror file of a process (see START_SCRIPT): what a native exec keeps. */
  private readonly mirrorCap: number;

  constructor(
    private readonly exec: ExecConfig,
    private readonly work: SandboxWorkService,
  ) {
    this.mirrorCap = mirrorCapBytes(exec.outputLimitBytes);
  }

  service(): Partial<ServiceImpl<typeof Process>> {
    return {
      start: (req, ctx) => this.start(req, ctx),
      connect: (req, ctx) => this.connect(req.process, ctx),
      list: async (_req, ctx) => ({ processes: await this.list(ctx) }),
      sendSignal: async (req, ctx) => {
        const sig = req.signal === Signal.SIGTERM ? 'TERM' : 'KILL';
        await this.helper(ctx, SIGNAL_SCRIPT, [String(this.pidOf(req.process)), sig]);
        return {};
      },
      sendInput: async (req, ctx) => {
        const input = req.input?.input;
        if (input?.case !== 'stdin') {
          throw new ConnectError('only stdin input is supported (no PTY)', Code.Unimplemented);
        }
        if (input.value.length > MAX_INPUT_BYTES) {
          throw new ConnectError(
            `stdin of ${input.value.length} bytes is over the limit of ${MAX_INPUT_BYTES}; send it in parts`,
            Code.InvalidArgument,
          );
        }
        await this.helper(ctx, INPUT_SCRIPT, [String(this.pidOf(req.process))], input.value);
        return {};
      },
      closeStdin: async (req, ctx) => {
        await this.helper(ctx, CLOSE_STDIN_SCRIPT, [String(this.pidOf(req.process))]);
        return {};
      },
      update: () => {
        throw new ConnectError('PTY is not supported by sandboxd', Code.Unimplemented);
      },
      streamInput: () => {
        throw new ConnectError(
          'StreamInput is not supported by sandboxd; use SendInput',
          Code.Unimplemented,
        );
      },
    };
  }

  private async *start(req: StartRequest, ctx: HandlerContext): AsyncGenerator<StartResponse> {
    if (req.pty) throw new ConnectError('PTY is not supported by sandboxd', Code.Unimplemented);
    const proc = req.process;
    if (!proc?.cmd) throw new ConnectError('process.cmd is required', Code.InvalidArgument);
    const envProblem = stringMapProblem(proc.envs, ENV_RULES);
    if (envProblem) throw new ConnectError(`process.envs: ${envProblem}`, Code.InvalidArgument);
    const sandboxId = sandboxIdOf((n) => ctx.requestHeader.get(n));
    const user = userOf((n) => ctx.requestHeader.get(n));
    const stored: StoredConfig = {
      cmd: proc.cmd,
      args: proc.args,
      envs: proc.envs,
      cwd: proc.cwd,
      tag: req.tag,
    };
    const info = Buffer.from(JSON.stringify(stored)).toString('base64');
    let events: AsyncIterator<ExecEvent>;
    try {
      const stream = await this.work.execStream(ENVD_ACTOR, sandboxId, {
        command: [
          'sh',
          '-c',
          START_SCRIPT,
          'sh',
          info,
          req.stdin ? '1' : '0',
          String(this.mirrorCap),
          proc.cmd,
          ...proc.args,
        ],
        env: Object.keys(proc.envs).length > 0 ? proc.envs : undefined,
        cwd: proc.cwd || undefined,
        user,
        timeoutSeconds: this.timeoutSeconds(ctx),
      });
      events = stream[Symbol.asyncIterator]();
    } catch (error) {
      throw connectErrorOf(error);
    }
    // The first line of stdout is the wrapper's pid; output read with it is kept for the caller.
    const pending: ProcessOutput[] = [];
    let head = Buffer.alloc(0);
    let pid: number | null = null;
    while (pid === null) {
      const next = await events.next();
      if (next.done || next.value.type === 'exit') {
        const code = next.done || next.value.type !== 'exit' ? null : next.value.exitCode;
        throw new ConnectError(
          `the process could not be started (exit code ${code ?? 'unknown'})`,
          Code.Internal,
        );
      }
      const event = next.value;
      if (event.type === 'stderr') {
        pending.push({ type: 'stderr', data: event.data });
        continue;
      }
      head = Buffer.concat([head, event.data]);
      const newline = head.indexOf(0x0a);
      if (newline < 0) continue;
      pid = Number(head.subarray(0, newline).toString('ascii'));
      const rest = head.subarray(newline + 1);
      if (rest.length > 0) pending.push({ type: 'stdout', data: rest });
    }
    const subscription = this.live.pump(sandboxId, pid, events, pending);
    // At the caller's deadline envd kills the process tree; a caller that only went away does not.
    const killed = pid;
    ctx.signal.addEventListener(
      'abort',
      () => {
        const left = ctx.timeoutMs();
        if (left === undefined || left > 0) return;
        this.helper(ctx, SIGNAL_SCRIPT, [String(killed), 'KILL']).catch(() => undefined);
      },
      { once: true },
    );
    yield create(StartResponseSchema, { event: { event: { case: 'start', value: { pid } } } });
    yield* this.relay(subscription, ctx, StartResponseSchema);
  }

  private async *connect(
    selector: ProcessSelector | undefined,
    ctx: HandlerContext,
  ): AsyncGenerator<ConnectResponse> {
    const pid = this.pidOf(selector);
    const sandboxId = sandboxIdOf((n) => ctx.requestHeader.get(n));
    const subscription = this.live.subscribe(sandboxId, pid);
    if (subscription) {
      yield create(ConnectResponseSchema, { event: { event: { case: 'start', value: { pid } } } });
      yield* this.relay(subscription, ctx, ConnectResponseSchema);
      return;
    }
    // Pumped by another replica (or a restarted one): its output is followed in the container.
    const check = await this.helper(ctx, WAIT_SCRIPT, [String(pid), '0']);
    if (check.startsWith('none')) {
      throw new ConnectError(`process with pid ${pid} not found`, Code.NotFound);
    }
    yield create(ConnectResponseSchema, { event: { event: { case: 'start', value: { pid } } } });
    if (check.startsWith('end')) {
      yield create(ConnectResponseSchema, {
        event: { event: { case: 'end', value: endOfAnswer(check) } },
      });
      return;
    }
    yield* this.relay(this.follow(ctx, sandboxId, pid), ctx, ConnectResponseSchema);
  }

  /**
   * The further output of a process that another replica pumps, from its mirror files in the
   * container (FOLLOW_SCRIPT), then its end (WAIT_SCRIPT). `close` stops the follower's exec; the
   * process goes on.
   */
  private follow(
    ctx: HandlerContext,
    sandboxId: string,
    pid: number,
  ): AsyncIterable<ProcessOutput> & { close(): void } {
    const stop = new AbortController();
    const input = {
      command: ['sh', '-c', FOLLOW_SCRIPT, 'sh', String(pid)],
      user: userOf((n) => ctx.requestHeader.get(n)),
      timeoutSeconds: this.timeoutSeconds(ctx),
    };
    const events = async function* (this: EnvdProcess): AsyncGenerator<ProcessOutput> {
      let stream: AsyncIterable<ExecEvent>;
      try {
        stream = await this.work.execStream(ENVD_ACTOR, sandboxId, input, stop.signal);
      } catch (error) {
        throw connectErrorOf(error);
      }
      for await (const event of stream) {
        if (event.type === 'exit') break;
        yield { type: event.type, data: event.data };
      }
      if (stop.signal.aborted) return;
      const answer = await this.helper(ctx, WAIT_SCRIPT, [
        String(pid),
        '0',
        String(this.mirrorCap),
      ]);
      yield { type: 'end', timedOut: false, ...parseEnd(answer) };
    };
    return { close: () => stop.abort(), [Symbol.asyncIterator]: () => events.call(this) };
  }

  private async *relay<T extends StartResponse | ConnectResponse>(
    subscription: AsyncIterable<ProcessOutput> & { close(): void },
    ctx: HandlerContext,
    schema: typeof StartResponseSchema | typeof ConnectResponseSchema,
  ): AsyncGenerator<T> {
    const onAbort = () => subscription.close();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    const interval = keepaliveIntervalMs(ctx.requestHeader.get('keepalive-ping-interval'));
    try {
      for await (const out of withKeepalive(subscription, interval)) {
        if (out === 'keepalive') {
          yield create(schema, { event: { event: { case: 'keepalive', value: {} } } }) as T;
          continue;
        }
        if (out.type === 'end') {
          yield create(schema, {
            event: {
              event: { case: 'end', value: endOf(out.exitCode, out.timedOut, out.truncated) },
            },
          }) as T;
          return;
        }
        yield create(schema, {
          event: {
            event: { case: 'data', value: { output: { case: out.type, value: out.data } } },
          },
        }) as T;
      }
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      subscription.close();
    }
  }

  private async list(ctx: HandlerContext): Promise<ProcessInfo[]> {
    const out = await this.helper(ctx, LIST_SCRIPT, []);
    const processes: ProcessInfo[] = [];
    for (const line of out.split('\n')) {
      const [pidText, info] = line.trim().split(' ');
      const pid = Number(pidText);
      if (!Number.isInteger(pid) || pid <= 0) continue;
      let stored: Partial<StoredConfig> = {};
      try {
        stored = JSON.parse(
          Buffer.from(info ?? '', 'base64').toString('utf8'),
        ) as Partial<StoredConfig>;
      } catch {
        // A process started by something else than Start: listed with what is known.
      }
      processes.push(
        create(ProcessInfoSchema, {
          pid,
          tag: stored.tag,
          config: create(ProcessConfigSchema, {
            cmd: stored.cmd ?? '',
            args: stored.args ?? [],
            envs: stored.envs ?? {},
            cwd: stored.cwd,
          }),
        }),
      );
    }
    return processes;
  }

  private pidOf(selector: ProcessSelector | undefined): number {
    const chosen = selector?.selector;
    if (chosen?.case === 'pid') return chosen.value;
    if (chosen?.case === 'tag') {
      throw new ConnectError(
        'selecting a process by tag is not supported; use its pid',
        Code.Unimplemented,
      );
    }
    throw new ConnectError('process.pid is required', Code.InvalidArgument);
  }

  /**
   * The exec's bound: the call's Connect-Timeout-Ms (the SDK's timeoutMs, 60 s by default; envd
   * kills the process then), within EXEC_MAX_TIMEOUT_SECONDS. No timeout means the server's limit.
   */
  private timeoutSeconds(ctx: HandlerContext): number {
    const max = this.exec.maxTimeoutSeconds;
    const remaining = ctx.timeoutMs();
    if (remaining === undefined) return max;
    return Math.max(1, Math.min(max, Math.ceil(remaining / 1000)));
  }

  /** A short exec of one script; its stdout. `none` answers NotFound, `nostdin` FailedPrecondition. */
  private async helper(
    ctx: HandlerContext,
    script: string,
    args: string[],
    stdin?: Uint8Array,
    {
      timeoutSeconds = HELPER_TIMEOUT_SECONDS,
      signal,
    }: { timeoutSeconds?: number; signal?: AbortSignal } = {},
  ): Promise<string> {
    const sandboxId = sandboxIdOf((n) => ctx.requestHeader.get(n));
    const user = userOf((n) => ctx.requestHeader.get(n));
    let out: string;
    try {
      const result = await this.work.exec(
        ENVD_ACTOR,
        sandboxId,
        {
          command: ['sh', '-c', script, 'sh', ...args],
          // The bytes as sent: stdin that is not UTF-8 passes through exactly.
          stdin,
          user,
          timeoutSeconds,
        },
        signal,
      );
      try {
        out = result.stdout.toString('utf8');
      } finally {
        result.release();
      }
    } catch (error) {
      throw connectErrorOf(error);
    }
    if (out.startsWith('none'))
      throw new ConnectError(`process with pid ${args[0]} not found`, Code.NotFound);
    if (out.startsWith('nostdin')) {
      throw new ConnectError(
        `process ${args[0]} was not started with stdin`,
        Code.FailedPrecondition,
      );
    }
    return out;
  }
}

/** envd's end event: the exit code (-1 when unknown), and why it ended when it was cut short. */
export function endOf(exitCode: number | null, timedOut: boolean, truncated = false) {
  const code = exitCode ?? -1;
  const problems = [
    timedOut ? 'the process was killed at its timeout' : null,
    truncated ? 'output past EXEC_OUTPUT_LIMIT was dropped' : null,
  ].filter((p): p is string => p !== null);
  return {
    exitCode: code,
    exited: exitCode !== null && exitCode < 128,
    status: timedOut ? 'signal: killed' : exitCode === null ? 'unknown' : `exit status ${code}`,
    error: problems.length > 0 ? problems.join('; ') : undefined,
  };
}

/**
 * A WAIT_SCRIPT answer `end <exit code>[ cut]`: the code (null when empty: killed before it could
 * write one), and whether a mirror file reached its cap (a follower missed output).
 */
function parseEnd(answer: string): { exitCode: number | null; truncated: boolean } {
  const [, rc, cut] = answer.trim().split(' ');
  return {
    exitCode: rc !== undefined && /^\d+$/.test(rc) ? Number(rc) : null,
    truncated: cut === 'cut' || rc === 'cut',
  };
}

/** envd's end event of a WAIT_SCRIPT answer. */
function endOfAnswer(answer: string) {
  const { exitCode, truncated } = parseEnd(answer);
  return endOf(exitCode, false, truncated);
}
