import { printTable } from './stats';

/**
 * One goal of a benchmark (issue 16's goals, for example "wall time ≤ 1.05× direct"), with what
 * this run measured and the baseline it was measured against in the same run. Every rollout-scale
 * benchmark writes its goals into its results JSON under `goals`, so `bench/rollout.ts` can print
 * one table for all of them.
 */
export interface Goal {
  /** The benchmark it belongs to (its results file's name). */
  bench: string;
  /** What is asked, in words: "p95 ≤ 1.10× direct". */
  goal: string;
  /** What this run measured, with its unit: "1.03×", "412 ms". */
  measured: string;
  /** The same run's baseline figure(s) it is compared with: "direct 5.57 s, API 5.74 s". */
  baseline: string;
  /** Whether the goal was met; null for a figure that is only reported (no threshold). */
  met: boolean | null;
}

/** A goal met when `value ≤ limit` (a ratio or a duration, whichever the goal names). */
export function atMost(
  bench: string,
  goal: string,
  value: number | null,
  limit: number,
  show: { measured: string; baseline: string },
): Goal {
  return { bench, goal, ...show, met: known(value) && value <= limit };
}

/** A goal met when `value ≥ limit` (a rate ratio, for example). */
export function atLeast(
  bench: string,
  goal: string,
  value: number | null,
  limit: number,
  show: { measured: string; baseline: string },
): Goal {
  return { bench, goal, ...show, met: known(value) && value >= limit };
}

/** A figure that was measured at all: a missing one misses its goal. */
function known(value: number | null): value is number {
  return value !== null && Number.isFinite(value);
}

/** A figure the issue asks to report without a threshold. */
export function reported(bench: string, goal: string, measured: string, baseline: string): Goal {
  return { bench, goal, measured, baseline, met: null };
}

export function verdictOf(goal: Goal): string {
  if (goal.met === null) return 'reported';
  return goal.met ? 'met' : 'MISSED';
}

/** Prints the goals as a table; returns 1 when one was missed (the benchmark's exit code). */
export function printGoals(title: string, goals: readonly Goal[]): number {
  printTable(
    title,
    ['benchmark', 'goal', 'measured', 'baseline (same run)', 'verdict'],
    goals.map((g) => [g.bench, g.goal, g.measured, g.baseline, verdictOf(g)]),
  );
  return goals.some((g) => g.met === false) ? 1 : 0;
}
