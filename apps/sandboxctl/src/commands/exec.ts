import { Command } from 'commander';
import type { ExecOptions, ExecResult } from '@app/sdk';
import { contextOf } from '../context';
import { ExitWith } from '../errors';
import { collect, integer, keyValues } from '../format';

interface ExecFlags {
  timeout?: number;
  env?: string[];
  cwd?: string;
  user?: string;
  stdin?: boolean;
}

/** `timeout(1)`'s convention, so scripts can tell a time-out from the command's own failure. */
export const EXIT_TIMED_OUT = 124;
/** 128 + SIGINT, as a shell reports a command interrupted with Ctrl-C. */
export const EXIT_INTERRUPTED = 130;

function exitStatus(result: Pick<ExecResult, 'exitCode' | 'timedOut'>): number {
  if (result.timedOut) return EXIT_TIMED_OUT;
  return result.exitCode ?? 1;
}

/** Writes a chunk and waits when the terminal or pipe is full, so output never piles up here. */
function write(stream: NodeJS.WritableStream, data: string): Promise<void> {
  return new Promise((resolve) => {
    if (stream.write(data)) resolve();
    else stream.once('drain', resolve);
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function execCommand(): Command {
  return new Command('exec')
    .description("run a command in a sandbox, stream its output, exit with the command's status")
    .usage('[options] <id> -- <argv...>')
    .argument('<id>', 'sandbox id or name')
    .argument('<argv...>', 'the command and its arguments (after --); use sh -c for a script')
    .option(
      '--timeout <seconds>',
      `kill it after this long (exit status ${EXIT_TIMED_OUT})`,
      integer(1),
    )
    .option('-e, --env <KEY=VALUE>', 'environment variable (repeatable)', collect)
    .option('-w, --cwd <dir>', 'absolute working directory')
    .option('-u, --user <user>', 'user, uid, user:group or uid:gid')
    .option('-i, --stdin', 'send this standard input to the command')
    .action(async (id: string, argv: string[], flags: ExecFlags, command: Command) => {
      const ctx = contextOf(command);
      const sandbox = ctx.client.sandbox(id);
      const options: ExecOptions = {
        timeoutSeconds: flags.timeout,
        env: keyValues(flags.env, '--env'),
        cwd: flags.cwd,
        user: flags.user,
        stdin: flags.stdin ? await readStdin() : undefined,
      };
      if (ctx.json) {
        const result = await sandbox.exec(argv, options);
        ctx.print(result, () => '');
        throw new ExitWith(exitStatus(result));
      }
      // Ctrl-C, a kill or a closed pipe abort the request, which kills the command in the sandbox.
      const controller = new AbortController();
      const stop = (): void => controller.abort();
      process.once('SIGINT', stop).once('SIGTERM', stop);
      ctx.stdout.once('error', stop);
      try {
        for await (const event of sandbox.execStream(argv, {
          ...options,
          signal: controller.signal,
        })) {
          if (event.type !== 'exit') {
            await write(event.type === 'stdout' ? ctx.stdout : ctx.stderr, event.data);
            continue;
          }
          if (event.timedOut)
            ctx.stderr.write(`error: TIMED_OUT: killed after ${flags.timeout}s\n`);
          if (event.truncated) ctx.stderr.write('warning: output was truncated by the service\n');
          throw new ExitWith(exitStatus(event));
        }
      } catch (error) {
        if (controller.signal.aborted && !(error instanceof ExitWith))
          throw new ExitWith(EXIT_INTERRUPTED);
        throw error;
      } finally {
        process.off('SIGINT', stop).off('SIGTERM', stop);
        ctx.stdout.off('error', stop);
      }
    });
}
