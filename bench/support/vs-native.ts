import type { Backend } from '../../test/support/app';
import { DEMO_IMAGE } from '../../test/support/docker';
import type { Deadline } from './run';
import {
  Stats,
  fmtMs,
  fmtRatio,
  interleaved,
  log,
  printTable,
  ratio,
  statsOf,
  writeResults,
} from './stats';

/** One backend's result of a compatibility front door measured against native /v1. */
export interface VsNative {
  /** The front door's timings (ROCK's route, E2B's SDK, …). */
  subject: Stats;
  native: Stats;
  ratioMedian: number | null;
  ratioP95: number | null;
}

export function vsNative(subject: Stats, native: Stats): VsNative {
  return {
    subject,
    native,
    ratioMedian: ratio(subject.medianMs, native.medianMs),
    ratioP95: ratio(subject.p95Ms, native.p95Ms),
  };
}

export interface PairRun {
  backend: Backend;
  /** What the subject is called in the log (`ROCK`, `e2b`). */
  label: string;
  samples: number;
  /** Pairs run first and not measured. */
  warmup: number;
  deadline: Deadline;
  /** One timed run of the subject or of native /v1, in ms; it checks its own answer. */
  time(variant: 'subject' | 'native'): Promise<number>;
}

/** Times `warmup + samples` pairs, the order alternating each pair, and compares the medians. */
export async function timePairs(run: PairRun): Promise<VsNative> {
  const times = { subject: [] as number[], native: [] as number[] };
  for (let i = 0; i < run.warmup + run.samples; i += 1) {
    run.deadline.check(`${run.backend} pair ${i + 1}`);
    for (const variant of interleaved(i, 'subject' as const, 'native' as const)) {
      const ms = await run.time(variant);
      if (i >= run.warmup) times[variant].push(ms);
    }
  }
  const result = vsNative(statsOf(times.subject), statsOf(times.native));
  log(
    `${run.backend}: ${run.label} ${fmtMs(result.subject.medianMs)} ms, native ${fmtMs(result.native.medianMs)} ms (median)`,
  );
  return result;
}

export interface VsNativeReport {
  /** The benchmark's name: its results file is bench/results/<name>.json. */
  name: string;
  title: string;
  /** What the subject is called in the table (`ROCK`, `e2b`). */
  label: string;
  results: Partial<Record<Backend, VsNative>>;
  /** The most the median ratio may be on every backend. */
  targetRatio: number;
  samples: number;
  warmup: number;
  /** The source file newer than the build, if any (see staleBuild). */
  stale: string | null;
}

/**
 * Prints the front door against native, one row per backend, then the verdict per backend, and
 * writes the JSON. Returns the exit code: 1 when a backend missed the target.
 */
export function reportVsNative(report: VsNativeReport): number {
  const { label, targetRatio } = report;
  const rows = Object.entries(report.results) as [Backend, VsNative][];
  printTable(
    report.title,
    [
      'backend',
      'n',
      `${label} median`,
      `${label} p95`,
      'native median',
      'native p95',
      'ratio median',
      'ratio p95',
    ],
    rows.map(([backend, r]) => [
      backend,
      String(r.subject.samples),
      fmtMs(r.subject.medianMs),
      fmtMs(r.subject.p95Ms),
      fmtMs(r.native.medianMs),
      fmtMs(r.native.p95Ms),
      fmtRatio(r.ratioMedian),
      fmtRatio(r.ratioP95),
    ]),
  );
  let pass = true;
  for (const [backend, r] of rows) {
    const ok = r.ratioMedian !== null && r.ratioMedian <= targetRatio;
    pass &&= ok;
    console.log(
      `${backend}: ${label}/native ${fmtRatio(r.ratioMedian)} at the median (target <= ${targetRatio.toFixed(2)}x) -> ${ok ? 'OK' : 'MISSED'}`,
    );
  }
  const file = writeResults(report.name, {
    server: 'node dist/apps/sandbox-api/main.js (own process)',
    buildOlderThan: report.stale,
    image: DEMO_IMAGE,
    samples: report.samples,
    warmup: report.warmup,
    subject: label,
    results: report.results,
    target: { maxMedianRatio: targetRatio },
    pass,
  });
  log(`wrote ${file}`);
  return pass ? 0 : 1;
}
