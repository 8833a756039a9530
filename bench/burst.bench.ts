/**
 * Issue 16's burst: 50 `POST /v1/sandboxes?wait=true` at once against 50 direct dockerode
 * create+starts of the same containers at once. Does the service keep up with the engine?
 *
 *   npx ts-node -r tsconfig-paths/register bench/burst.bench.ts
 *
 * Needs the Docker engine, the PostgreSQL and Redis of the integration tests, and the built server
 * (`npm run build`): the API is dist/apps/sandbox-api/main.js in its own process (BenchServer, on
 * a scratch PostgreSQL database and Redis prefix, scheduler off), as in production, so the load
 * generator and the baseline do not share the server's event loop.
 * Rounds are interleaved (API, direct, direct, API, …; BENCH_ROUNDS each, default 3). Each round
 * reports successes, p50/p95 of the per-request latency and the wall time of the whole burst; then
 * its sandboxes are removed (API: DELETE ?force=true; direct: rm -f -v) and the containers still
 * carrying the run's instance label are counted, which must be 0. A final count after the last
 * sweep confirms nothing leaked. Also prints where a request's time goes under the burst (answer
 * timestamps and the engine's Created/StartedAt, read before cleanup).
 * Goals (issue 16): wall time ≤ 1.05× direct (median of the rounds), p95 ≤ 1.10× direct (over all
 * requests), 0 errors, 0 leaked containers; printed with printGoals and written under `goals` into
 * bench/results/burst.json. Exit code 1 when a goal is missed.
 * Env: BENCH_CONCURRENCY (default 50), BENCH_ROUNDS (default 3), BENCH_TIMEOUT_SECONDS,
 * BENCH_PROFILE=<dir>: a V8 CPU profile of the server per API round (<dir>/burst-api-<n>.cpuprofile)
 * and its top self-time functions.
 */
import 'reflect-metadata';
import { DEMO_IMAGE, ensureDemoImage, sweepContainers, testDocker } from '../test/support/docker';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '@app/config';
import { benchEnv } from './support/app';
import { atMost, Goal, printGoals } from './support/goals';
import { printSelfTime } from './support/profile';
import { BenchServer, staleBuild } from './support/server';
import { DirectSandboxes, SandboxRequest, engineTimes, labelledContainers } from './support/direct';
import { SandboxAnswer, callApi, errorCodeOf, instant } from './support/http';
import { Breakdown } from './support/phases';
import { inBatches, runBenchmark } from './support/run';
import {
  Stats,
  fmtMs,
  fmtRatio,
  interleaved,
  log,
  median,
  positiveInt,
  printTable,
  ratio,
  round,
  statsOf,
  writeResults,
} from './support/stats';

const CONCURRENCY = Math.min(200, positiveInt('BENCH_CONCURRENCY', 50));
const ROUNDS = Math.max(2, positiveInt('BENCH_ROUNDS', 3));
const PROFILE_DIR = process.env.BENCH_PROFILE ? resolve(process.env.BENCH_PROFILE) : null;
const NAME = 'burst';
/**
 * Small limits so that 50 live sandboxes pass the service's admission check on a 2-core host with
 * the default OVERCOMMIT_CPU (host CPUs × 4 = 8): 50 × 0.1 = 5 CPUs.
 */
const REQUEST: SandboxRequest = { image: DEMO_IMAGE, cpus: 0.1, memory: '64m', ports: [8080] };
const DIRECT_PORTS = { from: 46000, to: 46999 };
const CLEANUP_PARALLELISM = 10;
type Variant = 'api' | 'direct';
type Outcome =
  { id: string; containerId: string; ms: number; sent: number } | { id: string; error: string };

interface RoundResult {
  variant: Variant;
  round: number;
  ok: number;
  failed: number;
  errors: Record<string, number>;
  latency: Stats;
  latenciesMs: number[];
  wallMs: number;
  cleanupMs: number;
  /** Containers with the instance label right after this round's own cleanup (must be 0). */
  leftAfterCleanup: number;
}

/** One round's numbers; `left`: containers still labelled after the round's own cleanup. */
function roundResult(
  variant: Variant,
  roundNo: number,
  latencies: number[],
  errors: Record<string, number>,
  timing: { wallMs: number; cleanupMs: number; left: number },
): RoundResult {
  return {
    variant,
    round: roundNo,
    ok: latencies.length,
    failed: CONCURRENCY - latencies.length,
    errors,
    latency: statsOf(latencies),
    latenciesMs: latencies.map((ms) => round(ms, 1)),
    wallMs: timing.wallMs,
    cleanupMs: timing.cleanupMs,
    leftAfterCleanup: timing.left,
  };
}

runBenchmark(NAME, 1200, async (cleanups, deadline) => {
  const stale = staleBuild();
  if (stale !== null) log(`warning: ${stale} is newer than the build; run "npm run build"`);
  await ensureDemoImage();
  const environment = await benchEnv('postgres+redis', { SCHEDULER_ENABLED: 'false' }, cleanups);
  const server = await BenchServer.start(environment.env, cleanups);
  const api = { url: server.url, instanceId: environment.instanceId };
  log(
    `API on ${api.url} (built server, pid ${server.pid}, postgres+redis, instance ${api.instanceId}); ${CONCURRENCY} at once`,
  );
  const docker = testDocker();
  const direct = new DirectSandboxes(docker, loadConfig(environment.env), DIRECT_PORTS);
  if (PROFILE_DIR !== null) mkdirSync(PROFILE_DIR, { recursive: true });
  const profiles: string[] = [];
  // Where a request's time goes under the burst: client, service and engine timestamps.
  const phases = { api: new Breakdown(), direct: new Breakdown() };

  const apiRound = async (roundNo: number): Promise<RoundResult> => {
    const profilePath = PROFILE_DIR && join(PROFILE_DIR, `${NAME}-api-${roundNo}.cpuprofile`);
    const stopProfile = profilePath === null ? null : await server.startProfile(profilePath);
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        try {
          return await callApi<SandboxAnswer>(api.url, 'POST', '/v1/sandboxes?wait=true', REQUEST);
        } catch (error) {
          return error instanceof Error ? error : new Error(String(error));
        }
      }),
    );
    const wallMs = performance.now() - started;
    if (stopProfile !== null && profilePath !== null) {
      await stopProfile();
      profiles.push(profilePath);
    }
    const latencies: number[] = [];
    const errors: Record<string, number> = {};
    const ids: string[] = [];
    const marks: { answer: SandboxAnswer; sent: number; end: number }[] = [];
    for (const answer of answers) {
      if (answer instanceof Error) {
        errors[answer.name] = (errors[answer.name] ?? 0) + 1;
        continue;
      }
      const body = answer.body;
      const sandbox = answer.status === 200 && body !== null && 'state' in body ? body : null;
      if (body !== null && 'id' in body) ids.push(body.id);
      if (sandbox?.state === 'running') {
        latencies.push(answer.ms);
        marks.push({ answer: sandbox, sent: answer.sentAt, end: answer.sentAt + answer.ms });
      } else {
        const code = errorCodeOf(body) ?? `${answer.status} ${sandbox?.state ?? ''}`.trim();
        errors[code] = (errors[code] ?? 0) + 1;
      }
    }
    await inBatches(marks, CLEANUP_PARALLELISM, async ({ answer, sent, end }) => {
      if (answer.containerId === null) return;
      const engine = await engineTimes(docker, answer.containerId);
      phases.api.add([
        ['request sent', sent],
        ['record created (createdAt)', instant(answer.createdAt)],
        ['docker create begun (Created)', engine.createdMs],
        ['process started (State.StartedAt)', engine.startedMs],
        ['running recorded (startedAt)', instant(answer.startedAt)],
        ['answer received', end],
      ]);
    });
    const cleanupStarted = performance.now();
    await inBatches(ids, CLEANUP_PARALLELISM, async (id) => {
      const answer = await callApi<null>(api.url, 'DELETE', `/v1/sandboxes/${id}?force=true`);
      if (answer.status !== 204) log(`API delete of ${id} answered ${answer.status}`);
    });
    const cleanupMs = performance.now() - cleanupStarted;
    const left = await labelledContainers(docker, api.instanceId);
    return roundResult('api', roundNo, latencies, errors, { wallMs, cleanupMs, left });
  };

  const directRound = async (roundNo: number): Promise<RoundResult> => {
    const work: { id: string; port: number }[] = [];
    for (let i = 0; i < CONCURRENCY; i += 1) {
      work.push({ id: direct.newId(), port: await direct.reservePort() });
    }
    const started = performance.now();
    const outcomes = await Promise.all(
      work.map(async ({ id, port }): Promise<Outcome> => {
        const sent = performance.timeOrigin + performance.now();
        const t0 = performance.now();
        try {
          const containerId = await direct.createAndStart(id, REQUEST, [port]);
          return { id, containerId, ms: performance.now() - t0, sent };
        } catch (error) {
          return { id, error: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
    const wallMs = performance.now() - started;
    const latencies: number[] = [];
    const errors: Record<string, number> = {};
    const created: { id: string; containerId: string; sent: number; end: number }[] = [];
    for (const outcome of outcomes) {
      if ('containerId' in outcome) {
        latencies.push(outcome.ms);
        created.push({
          id: outcome.id,
          containerId: outcome.containerId,
          sent: outcome.sent,
          end: outcome.sent + outcome.ms,
        });
      } else {
        const key = outcome.error.slice(0, 80);
        errors[key] = (errors[key] ?? 0) + 1;
      }
    }
    await inBatches(created, CLEANUP_PARALLELISM, async ({ containerId, sent, end }) => {
      const engine = await engineTimes(docker, containerId);
      phases.direct.add([
        ['request sent', sent],
        ['docker create begun (Created)', engine.createdMs],
        ['process started (State.StartedAt)', engine.startedMs],
        ['start returned', end],
      ]);
    });
    const cleanupStarted = performance.now();
    await inBatches(created, CLEANUP_PARALLELISM, (c) => direct.remove(c.containerId, c.id));
    const cleanupMs = performance.now() - cleanupStarted;
    const left = await labelledContainers(docker, api.instanceId);
    return roundResult('direct', roundNo, latencies, errors, { wallMs, cleanupMs, left });
  };

  // One unmeasured create each way first: the server's first create pays one-time costs (its
  // database connections, JIT, and the sandbox network if the boot-time look-up still runs)
  // that no later burst does, and dockerode's first call its own.
  deadline.check('warm-up');
  const warm = await callApi<SandboxAnswer>(api.url, 'POST', '/v1/sandboxes?wait=true', REQUEST);
  const warmId = warm.body !== null && 'id' in warm.body ? warm.body.id : null;
  if (warmId !== null) await callApi<null>(api.url, 'DELETE', `/v1/sandboxes/${warmId}?force=true`);
  const warmDirect = { id: direct.newId(), port: await direct.reservePort() };
  await direct.remove(
    await direct.createAndStart(warmDirect.id, REQUEST, [warmDirect.port]),
    warmDirect.id,
  );

  const results: RoundResult[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const variant of interleaved<Variant>(round, 'api', 'direct')) {
      deadline.check(`round ${round + 1} ${variant}`);
      log(`round ${round + 1}/${ROUNDS}: ${variant}, ${CONCURRENCY} creates at once`);
      const result = variant === 'api' ? await apiRound(round + 1) : await directRound(round + 1);
      results.push(result);
      log(
        `  ${result.ok}/${CONCURRENCY} ok, wall ${fmtMs(result.wallMs)} ms, ` +
          `left after cleanup ${result.leftAfterCleanup}`,
      );
      if (result.leftAfterCleanup > 0) {
        // Keep rounds independent: a leak is reported, then swept before the next round.
        await sweepContainers(api.instanceId);
      }
      // The engine settles (removals finish in the background) before the next burst.
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }

  const rowsPerRound = results.map((r) => [
    `${r.variant} round ${r.round}`,
    `${r.ok}/${CONCURRENCY}`,
    fmtMs(r.latency.medianMs),
    fmtMs(r.latency.p95Ms),
    fmtMs(r.latency.maxMs),
    fmtMs(r.wallMs),
    fmtMs(r.cleanupMs),
    String(r.leftAfterCleanup),
    Object.entries(r.errors)
      .map(([k, n]) => `${k}×${n}`)
      .join(', ') || '-',
  ]);
  printTable(
    `${CONCURRENCY} creates at once: API (wait=true, built server in its own process, postgres+redis) vs direct dockerode, interleaved rounds`,
    [
      'round',
      'ok',
      'p50 ms',
      'p95 ms',
      'max ms',
      'wall ms',
      'cleanup ms',
      'left after cleanup',
      'errors',
    ],
    rowsPerRound,
  );

  const summary = (variant: Variant) => {
    const mine = results.filter((r) => r.variant === variant);
    const all = statsOf(mine.flatMap((r) => r.latenciesMs));
    return {
      rounds: mine.length,
      ok: mine.reduce((sum, r) => sum + r.ok, 0),
      attempted: mine.length * CONCURRENCY,
      p50Ms: all.medianMs,
      p95Ms: all.p95Ms,
      wallMs: round(median(mine.map((r) => r.wallMs))),
    };
  };
  const a = summary('api');
  const d = summary('direct');
  printTable(
    `Summary (p50 / p95 over every successful request of all rounds; wall time: median of the rounds)`,
    ['metric', 'API', 'direct', 'ratio API/direct'],
    [
      ['successes', `${a.ok}/${a.attempted}`, `${d.ok}/${d.attempted}`, ''],
      ['p50 per request ms', fmtMs(a.p50Ms), fmtMs(d.p50Ms), fmtRatio(ratio(a.p50Ms, d.p50Ms))],
      ['p95 per request ms', fmtMs(a.p95Ms), fmtMs(d.p95Ms), fmtRatio(ratio(a.p95Ms, d.p95Ms))],
      ['wall time ms', fmtMs(a.wallMs), fmtMs(d.wallMs), fmtRatio(ratio(a.wallMs, d.wallMs))],
    ],
  );

  phases.api.print(`Where an API create's time goes under the burst (all rounds)`);
  phases.direct.print('Direct create+start under the burst, same marks');

  // Final check: stop the server, sweep by label (as the run's cleanup does), count again.
  await cleanups.runAll();
  const leaked = await labelledContainers(docker, api.instanceId);
  const leakedPerRound = results.reduce((sum, r) => sum + r.leftAfterCleanup, 0);
  console.log(
    `\nleaked containers afterwards: ${leaked} (label io.sandboxd.instance=${api.instanceId})`,
  );
  console.log(`containers left by a round's own cleanup, all rounds: ${leakedPerRound}`);

  for (const path of profiles)
    printSelfTime(`Server CPU during the API burst: top self time, ${path}`, path);

  const errorsOf = (variant: Variant) =>
    results.filter((r) => r.variant === variant).reduce((sum, r) => sum + r.failed, 0);
  const wallRatio = ratio(a.wallMs, d.wallMs);
  const p95Ratio = ratio(a.p95Ms, d.p95Ms);
  const goals: Goal[] = [
    atMost(NAME, 'wall time ≤ 1.05× direct', wallRatio, 1.05, {
      measured: fmtRatio(wallRatio),
      baseline: `API ${fmtMs(a.wallMs, 0)} ms, direct ${fmtMs(d.wallMs, 0)} ms (median of ${ROUNDS} rounds)`,
    }),
    atMost(NAME, 'p95 per create ≤ 1.10× direct', p95Ratio, 1.1, {
      measured: fmtRatio(p95Ratio),
      baseline: `API ${fmtMs(a.p95Ms, 0)} ms, direct ${fmtMs(d.p95Ms, 0)} ms`,
    }),
    atMost(NAME, '0 errors', errorsOf('api'), 0, {
      measured: `${errorsOf('api')} of ${a.attempted}`,
      baseline: `direct ${errorsOf('direct')} of ${d.attempted}`,
    }),
    atMost(NAME, '0 leaked containers', leaked + leakedPerRound, 0, {
      measured: `${leaked} after the sweep, ${leakedPerRound} after rounds' own cleanup`,
      baseline: '-',
    }),
  ];
  const missed = printGoals(`Goals of ${NAME} (issue 16)`, goals);

  const file = writeResults(NAME, {
    server: 'built (dist/apps/sandbox-api/main.js, own process)',
    backend: 'postgres+redis',
    concurrency: CONCURRENCY,
    rounds: ROUNDS,
    request: REQUEST,
    perRound: results,
    summary: { api: a, direct: d },
    ratio: {
      p50: ratio(a.p50Ms, d.p50Ms),
      p95: ratio(a.p95Ms, d.p95Ms),
      wall: ratio(a.wallMs, d.wallMs),
    },
    phases: { api: phases.api.stats(), direct: phases.direct.stats() },
    leakedAfterwards: leaked,
    leftByRoundCleanup: leakedPerRound,
    profiles,
    goals,
  });
  log(`wrote ${file}`);
  const directOk = d.ok === d.attempted;
  if (!directOk) log(`the direct baseline had ${errorsOf('direct')} error(s)`);
  return missed === 0 && directOk ? 0 : 1;
});
