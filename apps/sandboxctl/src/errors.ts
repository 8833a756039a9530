import { CommanderError } from 'commander';
import { SandboxdError } from '@app/sdk';

/** A mistake in how the CLI was called (bad K=V, no sandbox side in cp): exit status 2. */
export class UsageError extends Error {}

/** Ends the CLI with a given status without printing anything (exec passes its command's on). */
export class ExitWith extends Error {
  constructor(readonly status: number) {
    super(`exit ${status}`);
  }
}

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/**
 * Prints a failure the way every command reports one and answers the exit status: service and
 * network errors as `error: <code>: <message>` (1), usage errors as `error: <message>` (2).
 */
export function reportError(error: unknown, stderr: NodeJS.WritableStream): number {
  if (error instanceof ExitWith) return error.status;
  // Commander has already printed its own message (or the help, with status 0).
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_USAGE;
  if (error instanceof UsageError) {
    stderr.write(`error: ${error.message}\n`);
    return EXIT_USAGE;
  }
  if (error instanceof SandboxdError) {
    stderr.write(`error: ${error.code}: ${error.message}\n`);
    return EXIT_FAILURE;
  }
  const message = error instanceof Error ? error.message : String(error);
  stderr.write(`error: INTERNAL: ${message}\n`);
  return EXIT_FAILURE;
}
