import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';

/**
 * Last line of defence: an error nothing caught (an 'error' event without a listener, a promise
 * nobody awaited). It is logged with an `errorId`, like a 5xx, and the process then exits with
 * status 1. Continuing would hide the bug and run on in a state nobody reasoned about (a stream
 * half torn down, a lock never released); a supervisor (systemd, Compose `restart:`, Kubernetes)
 * restarts the service and the crash recovery finishes what was in flight. The cause is fixed in
 * the code, never here.
 */
export function installProcessFailureHandlers(
  exit: (code: number) => void = (code) => process.exit(code),
): void {
  const logger = new Logger('Process');
  const fail = (kind: string, error: unknown): void => {
    const errorId = randomUUID();
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    logger.fatal(`errorId=${errorId} ${kind}, exiting: ${detail}`);
    exit(1);
  };
  process.on('uncaughtException', (error) => fail('uncaught exception', error));
  process.on('unhandledRejection', (reason) => fail('unhandled rejection', reason));
}
