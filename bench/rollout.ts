/**
 * The rollout-scale benchmarks of one run, one after another, and one table of all their goals:
 *
 *   npm run bench:rollout            # or: npx ts-node -r tsconfig-paths/register bench/rollout.ts
 *
 * Runs burst, churn, density, warm-burst and poll-load (BENCH_ROLLOUT picks a comma-separated
 * subset), each in its own process with its own cleanup, so a failing one does not stop the rest.
 * Builds the server first (the benches that run it in its own process need dist/), unless
 * BENCH_SKIP_BUILD=true. Then reads each bench's bench/results/<name>.json (written by that run:
 * an older file is reported as missing, not read) and prints every goal with what this run
 * measured and the baseline it was measured against in the same run; writes
 * bench/results/rollout.json. Exit code 1 when a bench failed or a goal was missed.
 * Needs what the benches need: the Docker engine, PostgreSQL and Redis of the integration tests.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Goal, printGoals } from './support/goals';
import { RESULTS_DIR, log, printTable, writeResults } from './support/stats';

const ROLLOUT_BENCHES = ['burst', 'churn', 'density', 'warm-burst', 'poll-load'] as const;
const REPO_ROOT = join(__dirname, '..');

interface BenchRun {
  name: string;
  exitCode: number;
  seconds: number;
  goals: Goal[];
  /** Why no goals were read, when none were. */
  problem: string | null;
}

function picked(): string[] {
  const raw = process.env.BENCH_ROLLOUT;
  if (raw === undefined || raw.trim() === '') return [...ROLLOUT_BENCHES];
  const names = raw.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(ROLLOUT_BENCHES as readonly string[]).includes(name)) {
      throw new Error(`BENCH_ROLLOUT: unknown benchmark ${name} (${ROLLOUT_BENCHES.join(', ')})`);
    }
  }
  return names;
}

/**
 * The benches' environment: ts-node only transpiles them (type-checking each one's imports took
 * about 8 s of every bench's start; `npm run lint` and the build type-check the same code).
 */
const CHILD_ENV = { TS_NODE_TRANSPILE_ONLY: 'true', ...process.env };

/** Runs a command with this process's stdout/stderr; resolves with its exit code. */
function run(command: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, stdio: 'inherit', env: CHILD_ENV });
    const forward = (signal: NodeJS.Signals): void => {
      child.kill(signal);
    };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal === null ? 1 : 128));
    });
  });
}

/** The goals a bench wrote into its results file during this run (started at `since`). */
function goalsOf(name: string, since: number): { goals: Goal[]; problem: string | null } {
  const file = join(RESULTS_DIR, `${name}.json`);
  if (!existsSync(file) || statSync(file).mtimeMs < since) {
    return { goals: [], problem: `no bench/results/${name}.json from this run` };
  }
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { goals?: unknown };
  if (!Array.isArray(parsed.goals) || parsed.goals.length === 0) {
    return { goals: [], problem: `bench/results/${name}.json has no goals` };
  }
  return { goals: parsed.goals as Goal[], problem: null };
}

async function main(): Promise<number> {
  const names = picked();
  const startedAt = Date.now();
  if (process.env.BENCH_SKIP_BUILD !== 'true') {
    log('building the server (npm run build)');
    const built = await run('npm', ['run', '--silent', 'build']);
    if (built !== 0) {
      log(`the build failed (exit ${built})`);
      return 1;
    }
  }
  const runs: BenchRun[] = [];
  for (const name of names) {
    log(`=== ${name} ===`);
    const since = Date.now();
    const exitCode = await run('npx', [
      'ts-node',
      '-r',
      'tsconfig-paths/register',
      join('bench', `${name}.bench.ts`),
    ]);
    const seconds = Math.round((Date.now() - since) / 1000);
    runs.push({ name, exitCode, seconds, ...goalsOf(name, since) });
  }
  const totalSeconds = Math.round((Date.now() - startedAt) / 1000);

  printTable(
    'Rollout benchmarks of this run',
    ['benchmark', 'exit code', 'seconds', 'goals', 'problem'],
    runs.map((r) => [
      r.name,
      String(r.exitCode),
      String(r.seconds),
      String(r.goals.length),
      r.problem ?? '-',
    ]),
  );
  const goals = runs.flatMap((r) => r.goals);
  const missed = printGoals(`Every goal (total ${totalSeconds} s)`, goals);
  const file = writeResults('rollout', { totalSeconds, runs });
  log(`wrote ${file}`);
  const failed = runs.some((r) => r.exitCode !== 0 && r.goals.length === 0);
  return failed || missed !== 0 || runs.some((r) => r.problem !== null) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
