import { log } from './stats';

type Step = { name: string; run: () => Promise<unknown> };

/**
 * Cleanup steps of one benchmark run, undone in reverse order of registration (the app closes
 * before its database is dropped). Every step runs once, whatever happened before it: a failing
 * step is reported and the next one still runs.
 */
export class Cleanups {
  private readonly steps: Step[] = [];
  private running: Promise<string[]> | null = null;

  add(name: string, run: () => Promise<unknown>): void {
    this.steps.push({ name, run });
  }

  /** Runs (and forgets) every step registered so far, newest first; returns the failures. */
  runAll(): Promise<string[]> {
    this.running ??= (async () => {
      const failures: string[] = [];
      while (this.steps.length > 0) {
        const step = this.steps.pop() as Step;
        try {
          await step.run();
        } catch (error) {
          failures.push(`${step.name}: ${error instanceof Error ? error.message : String(error)}`);
          log(`cleanup step "${step.name}" failed: ${String(error)}`);
        }
      }
      return failures;
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }
}

/** Thrown by `Deadline.check` once the run's time budget is spent or the run was interrupted. */
export class DeadlineExceeded extends Error {}

/**
 * The run's time budget (BENCH_TIMEOUT_SECONDS): long loops check it between iterations, and it
 * also stops them once the run is interrupted (Ctrl-C), so no new work starts during the cleanup.
 */
export class Deadline {
  readonly endsAt: number;
  private stopped: string | null = null;

  constructor(readonly seconds: number) {
    this.endsAt = Date.now() + seconds * 1000;
  }

  stop(reason: string): void {
    this.stopped ??= reason;
  }

  check(what: string): void {
    if (this.stopped !== null) throw new DeadlineExceeded(`${this.stopped} (${what})`);
    if (Date.now() > this.endsAt) {
      throw new DeadlineExceeded(`time budget of ${this.seconds} s spent (${what})`);
    }
  }
}

/** How long an interrupted run waits for its body to stop before cleaning up regardless. */
const SETTLE_AFTER_ABORT_MS = 60_000;

/**
 * Runs one benchmark: `body` returns the exit code. Cleanups run at the end, on failure, on
 * SIGINT/SIGTERM and when the hard time limit (budget + 2 min) fires, so nothing it created
 * (containers, databases, Redis keys, files) outlives the run. On an interruption the body is
 * stopped at its next check (or when its calls fail) before the cleanup starts, so it cannot make
 * a container after the sweep. The signal handlers stay installed until the exit: Nest's shutdown
 * hooks (enabled by configureApp) re-raise the signal after closing the app, which must not end
 * this process in the middle of its cleanup.
 */
export function runBenchmark(
  name: string,
  defaultBudgetSeconds: number,
  body: (cleanups: Cleanups, deadline: Deadline) => Promise<number>,
): void {
  const raw = process.env.BENCH_TIMEOUT_SECONDS;
  const budget = raw === undefined || raw === '' ? defaultBudgetSeconds : Number(raw);
  if (!Number.isFinite(budget) || budget <= 0) {
    throw new Error('BENCH_TIMEOUT_SECONDS must be a positive number');
  }
  const cleanups = new Cleanups();
  const deadline = new Deadline(budget);
  let aborted = false;
  let finishing = false;

  const done = body(cleanups, deadline).then(
    (code) => code,
    (error: unknown) => {
      if (!aborted) console.error(error);
      return 1;
    },
  );
  const finish = async (code: number): Promise<void> => {
    if (finishing) return;
    finishing = true;
    clearTimeout(hardStop);
    const failures = await cleanups.runAll();
    if (failures.length > 0) log(`cleanup had ${failures.length} failure(s)`);
    process.exit(failures.length > 0 && code === 0 ? 1 : code);
  };
  const abort = (reason: string, code: number): void => {
    if (aborted || finishing) return;
    aborted = true;
    deadline.stop(reason);
    log(`${reason}: stopping, then cleaning up`);
    const settle = new Promise<void>((resolve) => setTimeout(resolve, SETTLE_AFTER_ABORT_MS));
    void Promise.race([done, settle]).then(() => finish(code));
  };
  const onSignal = (signal: NodeJS.Signals): void => abort(signal, 130);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const hardStop = setTimeout(
    () => abort(`${name}: hard time limit (${budget + 120} s) reached`, 2),
    (budget + 120) * 1000,
  );
  void done.then((code) => (aborted ? undefined : finish(code)));
}

/** Runs `task` over `items`, at most `parallelism` at a time. */
export async function inBatches<T>(
  items: readonly T[],
  parallelism: number,
  task: (item: T) => Promise<unknown>,
): Promise<void> {
  for (let i = 0; i < items.length; i += parallelism) {
    await Promise.all(items.slice(i, i + parallelism).map(task));
  }
}
