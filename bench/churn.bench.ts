/**
 * The RL rollout cycle at engine speed: create (running) → 5 execs of `echo` → delete, by 16
 * workers back to back, through the API vs the same cycle on dockerode directly.
 *
 *   npx ts-node -r tsconfig-paths/register bench/churn.bench.ts
 *
 * The API is the built server (dist/, `npm run build` first) in its own process on
 * PostgreSQL+Redis, with the scheduler on as in production. The direct side builds the container
 * the service would (DirectSandboxes: buildContainerConfig), runs the execs as any Docker client
 * does (exec create, hijacked start, output to its end, exec inspect for the exit code) and
 * removes it with rm -f -v. Windows are interleaved (API, direct, direct, API; BENCH_DURATION
 * seconds per side in all, default 60), each with BENCH_CONCURRENCY workers (default 16); a cycle
 * counts to the window it started in once it finished. Reports cycles per minute, the ratio
 * (goal ≥ 0.90× of direct), per-phase p50/p95, errors by code (goal 0) and the containers left by
 * the run's instance label (goal 0). Writes bench/results/churn.json.
 */
import 'reflect-metadata';
import { loadConfig } from '@app/config';
import { ensureDemoImage, testDocker } from '../test/support/docker';
import { benchEnv } from './support/app';
import {
  Cycle,
  CycleTimes,
  WindowResult,
  apiCycle,
  cyclesPerMinute,
  directCycle,
  errorsOf,
  runWindow,
} from './support/churn';
import { DirectSandboxes, labelledContainers } from './support/direct';
import { atLeast, atMost, printGoals } from './support/goals';
import { runBenchmark } from './support/run';
import { BenchServer, staleBuild } from './support/server';
import {
  fmtMs,
  fmtRatio,
  log,
  positiveInt,
  printTable,
  ratio,
  round,
  statsOf,
  writeResults,
} from './support/stats';

const NAME = 'churn';
const CONCURRENCY = positiveInt('BENCH_CONCURRENCY', 16);
const SECONDS_PER_SIDE = positiveInt('BENCH_DURATION', 60);
const WINDOWS_PER_SIDE = 2;
const DIRECT_PORTS = { from: 48000, to: 48999 };
type Side = 'api' | 'direct';

runBenchmark(NAME, 900, async (cleanups, deadline) => {
  const stale = staleBuild();
  if (stale !== null) log(`warning: ${stale} is newer than the build; run "npm run build"`);
  await ensureDemoImage();
  const environment = await benchEnv('postgres+redis', {}, cleanups);
  const server = await BenchServer.start(environment.env, cleanups);
  const docker = testDocker();
  const direct = new DirectSandboxes(docker, loadConfig(environment.env), DIRECT_PORTS);
  const cycles: Record<Side, Cycle> = {
    api: apiCycle(server.url),
    direct: directCycle(direct, docker),
  };
  log(`API ${server.url} (built server, pid ${server.pid}, postgres+redis, scheduler on)`);

  // One short cycle each first, not counted: images, the network and connections are warm.
  await runWindow(cycles.api, 2, 1, deadline);
  await runWindow(cycles.direct, 2, 1, deadline);

  const windows: Record<Side, WindowResult[]> = { api: [], direct: [] };
  const order: Side[] = ['api', 'direct', 'direct', 'api'];
  const windowSeconds = SECONDS_PER_SIDE / WINDOWS_PER_SIDE;
  for (const [i, side] of order.entries()) {
    log(`window ${i + 1}/${order.length}: ${side}, ${CONCURRENCY} workers, ${windowSeconds} s`);
    const result = await runWindow(cycles[side], CONCURRENCY, windowSeconds, deadline);
    windows[side].push(result);
    log(`  ${result.cycles.length} cycles, errors ${JSON.stringify(result.errors)}`);
  }
  const leaked = await labelledContainers(docker, environment.instanceId);

  const rate = { api: cyclesPerMinute(windows.api), direct: cyclesPerMinute(windows.direct) };
  const errors = { api: errorsOf(windows.api), direct: errorsOf(windows.direct) };
  const all = (side: Side): CycleTimes[] => windows[side].flatMap((w) => w.cycles);
  const phases = (side: Side) => ({
    create: statsOf(all(side).map((c) => c.createMs)),
    exec: statsOf(all(side).flatMap((c) => c.execMs)),
    delete: statsOf(all(side).map((c) => c.deleteMs)),
    cycle: statsOf(
      all(side).map((c) => c.createMs + c.execMs.reduce((a, b) => a + b, 0) + c.deleteMs),
    ),
  });
  const api = phases('api');
  const dir = phases('direct');
  printTable(
    `Churn: ${CONCURRENCY} workers, ${SECONDS_PER_SIDE} s per side (windows API, direct, direct, API)`,
    ['side', 'cycles', 'cycles/min', 'errors'],
    (['api', 'direct'] as const).map((side) => [
      side,
      String(all(side).length),
      rate[side].toFixed(1),
      JSON.stringify(errors[side]),
    ]),
  );
  printTable(
    'Per phase (ms)',
    ['phase', 'API p50', 'API p95', 'direct p50', 'direct p95', 'p50 ratio'],
    (['create', 'exec', 'delete', 'cycle'] as const).map((phase) => [
      phase,
      fmtMs(api[phase].medianMs),
      fmtMs(api[phase].p95Ms),
      fmtMs(dir[phase].medianMs),
      fmtMs(dir[phase].p95Ms),
      fmtRatio(ratio(api[phase].medianMs, dir[phase].medianMs)),
    ]),
  );
  const rateRatio = ratio(rate.api, rate.direct);
  const apiErrors = Object.values(errors.api).reduce((a, b) => a + b, 0);
  const goals = [
    atLeast(NAME, 'cycles per minute ≥ 0.90× direct', rateRatio, 0.9, {
      measured: `${fmtRatio(rateRatio)} (API ${rate.api.toFixed(1)}/min)`,
      baseline: `direct ${rate.direct.toFixed(1)}/min`,
    }),
    atMost(NAME, '0 errors', apiErrors, 0, {
      measured: `${apiErrors} of ${all('api').length + apiErrors} API cycles`,
      baseline: `direct ${Object.values(errors.direct).reduce((a, b) => a + b, 0)}`,
    }),
    atMost(NAME, '0 leaked containers', leaked, 0, {
      measured: `${leaked}`,
      baseline: 'labelled with the run instance, after every cycle ended',
    }),
  ];
  const code = printGoals('Goals of churn (issue 16)', goals);
  const file = writeResults(NAME, {
    concurrency: CONCURRENCY,
    secondsPerSide: SECONDS_PER_SIDE,
    cyclesPerMinute: { api: round(rate.api, 1), direct: round(rate.direct, 1) },
    ratio: rateRatio,
    errors,
    phases: { api, direct: dir },
    leaked,
    goals,
  });
  log(`wrote ${file}`);
  return code;
});
