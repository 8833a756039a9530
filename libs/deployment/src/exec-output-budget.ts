import { CodedError } from '@app/domain';

/**
 * One process-wide budget for the exec output held in memory at once, across all requests.
 * Each buffered exec takes a lease and grows it chunk by chunk as output arrives (a `true` costs
 * nothing, so cheap commands never compete with big ones); the lease is given back once its
 * answer has been written. Without it, 30 execs of 10 MiB each held 2 GB: the per-exec cap
 * (EXEC_OUTPUT_LIMIT) bounds one request, this bounds all of them.
 */
export class ExecOutputBudget {
  private used = 0;

  constructor(readonly limitBytes: number) {}

  get usedBytes(): number {
    return this.used;
  }

  /** A lease holding nothing yet; refused when the budget is already spent. */
  lease(): ExecOutputLease {
    if (this.used >= this.limitBytes) throw budgetExhausted(this.limitBytes);
    return new ExecOutputLease(this);
  }

  /** @internal by ExecOutputLease only. */
  tryTake(bytes: number): boolean {
    if (this.used + bytes > this.limitBytes) return false;
    this.used += bytes;
    return true;
  }

  /** @internal by ExecOutputLease only. */
  giveBack(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }
}

export class ExecOutputLease {
  private held = 0;
  private released = false;

  constructor(private readonly budget: ExecOutputBudget) {}

  get heldBytes(): number {
    return this.held;
  }

  /** Takes `bytes` more; false (and nothing taken) when the budget has no room or it is released. */
  grow(bytes: number): boolean {
    if (this.released || !this.budget.tryTake(bytes)) return false;
    this.held += bytes;
    return true;
  }

  /** Gives everything back; harmless when called again. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.budget.giveBack(this.held);
    this.held = 0;
  }
}

/** Seconds a refused client should wait: the execs holding the budget are mostly short. */
export const EXEC_BUDGET_RETRY_AFTER_SECONDS = 5;

export function budgetExhausted(limitBytes: number): CodedError {
  return new CodedError(
    'EXEC_OUTPUT_BUDGET_EXHAUSTED',
    `the service holds as much exec output as EXEC_OUTPUT_BUDGET allows (${limitBytes} bytes); ` +
      `retry later, or stream the output (Accept: application/x-ndjson)`,
    { limitBytes, retryAfterSeconds: EXEC_BUDGET_RETRY_AFTER_SECONDS },
  );
}
