import { CodedError } from '@app/domain';
import { Injectable } from '@nestjs/common';
import { execFile, type ExecFileException } from 'node:child_process';

export interface RunOptions {
  /** The child is killed (SIGKILL) when it runs longer than this. */
  timeoutMs: number;
  /** Written to the child's stdin; stdin is closed either way so no command waits on it. */
  input?: string;
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/**
 * Each stream is capped: a command that prints more is killed and reported, rather than letting a
 * runaway child fill the service's memory. The xfs tools print a few lines.
 */
export const MAX_OUTPUT_BYTES = 1024 * 1024;
/** stderr kept in error details; enough to read the tool's complaint, short enough to log. */
const STDERR_DETAIL_CHARS = 2_000;

/** A command that could not run to completion, or (via requireSuccess) exited non-zero. */
export class CommandError extends CodedError {
  constructor(
    message: string,
    readonly file: string,
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    const details = {
      file,
      args: [...args],
      exitCode,
      stderr: stderr.slice(0, STDERR_DETAIL_CHARS),
    };
    super('INTERNAL_ERROR', message, details, options);
    this.name = 'CommandError';
  }
}

/**
 * The one place in the library that starts processes. `execFile` without a shell: arguments go to
 * the program as an array, so a path can never be read as shell syntax. Any exit code resolves (the
 * caller decides what a non-zero one means); a timeout, an output overflow, a missing program or a
 * death by signal rejects with a CommandError. Injectable so tests substitute a scripted fake.
 */
@Injectable()
export class CommandRunner {
  run(file: string, args: readonly string[], options: RunOptions): Promise<CommandResult> {
    if (!(options.timeoutMs > 0)) {
      return Promise.reject(new RangeError(`timeoutMs must be positive, got ${options.timeoutMs}`));
    }
    return new Promise((resolve, reject) => {
      const child = execFile(
        file,
        [...args],
        {
          encoding: 'utf8',
          timeout: options.timeoutMs,
          killSignal: 'SIGKILL',
          maxBuffer: MAX_OUTPUT_BYTES,
          // The C locale keeps tool output in the English the parsers expect.
          env: { ...process.env, LC_ALL: 'C' },
        },
        (error, stdout, stderr) => {
          if (error === null) return resolve({ stdout, stderr, exitCode: 0 });
          const failure = toCommandError(error, file, args, options.timeoutMs, stderr);
          if (failure === null) return resolve({ stdout, stderr, exitCode: Number(error.code) });
          reject(failure);
        },
      );
      // A child that exits without reading its stdin makes the write fail with EPIPE; the exit
      // status already tells the story, so that error is not worth more than the result.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(options.input);
    });
  }
}

/** null when the child simply exited with a non-zero code (a result, not an error). */
function toCommandError(
  error: ExecFileException,
  file: string,
  args: readonly string[],
  timeoutMs: number,
  stderr: string,
): CommandError | null {
  const command = `${file} ${args.join(' ')}`;
  if (error.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
    const message = `${command}: output exceeded ${MAX_OUTPUT_BYTES} bytes; the process was killed`;
    return new CommandError(message, file, args, null, stderr, { cause: error });
  }
  if (error.killed === true) {
    const message = `${command}: timed out after ${timeoutMs} ms; the process was killed`;
    return new CommandError(message, file, args, null, stderr, { cause: error });
  }
  if (typeof error.code === 'number') return null;
  if (typeof error.code === 'string') {
    const message = `${command}: could not run (${error.code})`;
    return new CommandError(message, file, args, null, stderr, { cause: error });
  }
  const message = `${command}: killed by ${error.signal ?? 'an unknown signal'}`;
  return new CommandError(message, file, args, null, stderr, { cause: error });
}

/** Returns the result of a command that must exit 0; otherwise throws a CommandError. */
export function requireSuccess(
  result: CommandResult,
  file: string,
  args: readonly string[],
): CommandResult {
  if (result.exitCode === 0) return result;
  const firstLine = result.stderr.trim().split('\n')[0] ?? '';
  const message = `${file} exited with ${result.exitCode}${firstLine ? `: ${firstLine}` : ''}`;
  throw new CommandError(message, file, args, result.exitCode, result.stderr);
}
