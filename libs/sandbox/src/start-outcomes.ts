import { isCodedError } from '@app/domain';

/** How many of the latest creates must all have failed in the engine to call it degraded. */
export const SYSTEMATIC_FAILURES = 5;
/** Outcomes older than this say nothing about the engine now. */
export const OUTCOME_WINDOW_MS = 5 * 60_000;

interface Outcome {
  at: number;
  engineFailure: string | null;
}

/**
 * The latest container starts of creates in this process, so readiness can tell an engine that
 * answers pings but cannot start anything. Only failures of the engine itself count (it refused
 * create or start, or could not be reached): a user's image that is missing or a command that
 * exits is the user's doing and must not flip readiness for everyone.
 */
export class StartOutcomes {
  private readonly latest: Outcome[] = [];
  /** Error code of a create's failed start, by sandbox id, until the create's metric takes it. */
  private readonly failedCodes = new Map<string, string>();

  noteSuccess(now = Date.now()): void {
    this.push({ at: now, engineFailure: null });
  }

  noteFailure(sandboxId: string, error: unknown, now = Date.now()): void {
    const code = isCodedError(error) ? error.code : 'INTERNAL_ERROR';
    this.failedCodes.set(sandboxId, code);
    // Bounded: a create whose metric never reads its code (a crash) must not leak.
    if (this.failedCodes.size > 1_000) {
      this.failedCodes.delete(this.failedCodes.keys().next().value as string);
    }
    this.push({ at: now, engineFailure: engineFailureOf(error) });
  }

  /** The failure code a create ended with, once (see SandboxMetrics.time). */
  takeFailureCode(sandboxId: string): string | undefined {
    const code = this.failedCodes.get(sandboxId);
    this.failedCodes.delete(sandboxId);
    return code;
  }

  /** Why starts look systematically broken, or null when they do not. */
  systematicFailure(now = Date.now()): string | null {
    const recent = this.latest.filter((outcome) => now - outcome.at <= OUTCOME_WINDOW_MS);
    if (recent.length < SYSTEMATIC_FAILURES) return null;
    if (recent.some((outcome) => outcome.engineFailure === null)) return null;
    return `the last ${recent.length} container starts within ${OUTCOME_WINDOW_MS / 60_000} min all failed in the engine (latest: ${recent[recent.length - 1].engineFailure})`;
  }

  private push(outcome: Outcome): void {
    this.latest.push(outcome);
    if (this.latest.length > SYSTEMATIC_FAILURES) this.latest.shift();
  }
}

function engineFailureOf(error: unknown): string | null {
  // An engine that took a call and never answered it is as broken as one that refused it.
  if (isCodedError(error, 'RUNTIME_UNAVAILABLE') || isCodedError(error, 'ENGINE_TIMEOUT')) {
    return error.message;
  }
  if (isCodedError(error, 'CONTAINER_FAILED') && error.details?.reason === 'engine') {
    return error.message;
  }
  return null;
}
