/**
 * What ROCK-style polling of a big fleet costs a rollout: 500 live sandboxes, each polled with
 * `GET /v1/sandboxes/:id` every 3 s (the ROCK SDK's cadence), while the churn of bench/churn runs
 * through the API; against the same churn with no polling, in the same run.
 *
 *   npx ts-node -r tsconfig-paths/register bench/poll-load.bench.ts
 *
 * The API is the built server (dist/, `npm run build` first) in its own process on
 * PostgreSQL+Redis, scheduler on. The BENCH_SANDBOXES (500) sandboxes are created through the API
 * first (16 at a time, not measured). The pollers are autocannon in a child process at a steady
 * rate of sandboxes / 3 requests per second, the ids taken round robin, so each sandbox is read
 * every 3 s. Windows alternate polled, alone, alone, polled (BENCH_DURATION seconds per variant in
 * all, default 32), each with the churn's BENCH_CONCURRENCY (16) workers. Reports the churn rate
 * polled ÷ alone (goal ≥ 0.95), the server's CPU share (utime + stime from /proc, in cores) per
 * variant, and the polls' p50/p99, non-2xx and errors. Writes bench/results/poll-load.json.
 */
import 'reflect-metadata';
import { ensureDemoImage, testDocker } from '../test/support/docker';
import { benchEnv } from './support/app';
import {
  CHURN_SANDBOX,
  WindowResult,
  apiCycle,
  cyclesPerMinute,
  errorsOf,
  runWindow,
} from './support/churn';
import { labelledContainers } from './support/direct';
import { atLeast, atMost, printGoals, reported } from './support/goals';
import { SandboxAnswer, callApi, errorCodeOf } from './support/http';
import { LoadGenerator, LoadSummary } from './support/load';
import { cpuShare, cpuTicks } from './support/proc';
import { Deadline, runBenchmark } from './support/run';
import { BenchServer, staleBuild } from './support/server';
import {
  fmtRatio,
  log,
  positiveInt,
  printTable,
  ratio,
  round,
  writeResults,
} from './support/stats';

const NAME = 'poll-load';
const SANDBOXES = positiveInt('BENCH_SANDBOXES', 500);
const CONCURRENCY = positiveInt('BENCH_CONCURRENCY', 16);
const SECONDS_PER_VARIANT = positiveInt('BENCH_DURATION', 32);
const POLL_INTERVAL_SECONDS = 3;
const POLL_CONNECTIONS = 16;
const FLEET_CONCURRENCY = 16;
type Variant = 'polled' | 'alone';

interface Window {
  variant: Variant;
  churn: WindowResult;
  cpuShare: number;
  polls: LoadSummary | null;
}

runBenchmark(NAME, 900, async (cleanups, deadline) => {
  const stale = staleBuild();
  if (stale !== null) log(`warning: ${stale} is newer than the build; run "npm run build"`);
  await ensureDemoImage();
  // 500 sandboxes of 0.1 CPU commit 50 CPUs: far past a 2-core host's default overcommit.
  const environment = await benchEnv(
    'postgres+redis',
    { OVERCOMMIT_CPU: '1000', OVERCOMMIT_MEMORY: '1000' },
    cleanups,
  );
  const server = await BenchServer.start(environment.env, cleanups);
  const pollers = await LoadGenerator.start(cleanups);
  log(`API ${server.url} (built server, pid ${server.pid}, postgres+redis, scheduler on)`);

  const fleetStarted = performance.now();
  const fleet = await createFleet(server.url, SANDBOXES, deadline);
  log(`${fleet.length} live in ${((performance.now() - fleetStarted) / 1000).toFixed(1)} s`);
  const churn = apiCycle(server.url);
  await runWindow(churn, 2, 1, deadline); // warm, not counted

  const windows: Window[] = [];
  const order: Variant[] = ['polled', 'alone', 'alone', 'polled'];
  const windowSeconds = SECONDS_PER_VARIANT / 2;
  for (const [i, variant] of order.entries()) {
    log(`window ${i + 1}/${order.length}: churn ${variant}, ${windowSeconds} s`);
    const ticks = cpuTicks(server.pid);
    const started = performance.now();
    const polling =
      variant === 'polled'
        ? pollers.run({
            url: server.url,
            paths: fleet.map((id) => `/v1/sandboxes/${id}`),
            connections: POLL_CONNECTIONS,
            durationSeconds: windowSeconds,
            overallRate: Math.ceil(fleet.length / POLL_INTERVAL_SECONDS),
          })
        : Promise.resolve(null);
    const [result, polls] = await Promise.all([
      runWindow(churn, CONCURRENCY, windowSeconds, deadline),
      polling,
    ]);
    const share = cpuShare(cpuTicks(server.pid) - ticks, performance.now() - started);
    windows.push({ variant, churn: result, cpuShare: share, polls });
    log(`  ${result.cycles.length} cycles, CPU ${share} cores, polls ${polls?.total ?? 0}`);
  }

  deadline.check('deleting the fleet');
  const deleteErrors = await deleteFleet(server.url, fleet);
  const leaked = await labelledContainersSettled(environment.instanceId);

  const of = (variant: Variant) => windows.filter((w) => w.variant === variant);
  const rate = {
    polled: cyclesPerMinute(of('polled').map((w) => w.churn)),
    alone: cyclesPerMinute(of('alone').map((w) => w.churn)),
  };
  const cpu = {
    polled: round(of('polled').reduce((s, w) => s + w.cpuShare, 0) / 2, 3),
    alone: round(of('alone').reduce((s, w) => s + w.cpuShare, 0) / 2, 3),
  };
  const polls = of('polled').flatMap((w) => (w.polls === null ? [] : [w.polls]));
  const pollTotal = polls.reduce((s, p) => s + p.total, 0);
  const pollBad = polls.reduce((s, p) => s + p.non2xx + p.errors + p.timeouts, 0);
  const pollP99 = Math.max(...polls.map((p) => p.latencyMs.p99));
  const pollP50 = Math.max(...polls.map((p) => p.latencyMs.p50));
  const churnErrors = {
    polled: errorsOf(of('polled').map((w) => w.churn)),
    alone: errorsOf(of('alone').map((w) => w.churn)),
  };
  printTable(
    `Churn (${CONCURRENCY} workers) with ${fleet.length} sandboxes polled every ${POLL_INTERVAL_SECONDS} s vs alone`,
    [
      'window',
      'variant',
      'cycles',
      'API CPU (cores)',
      'polls',
      'poll p50 ms',
      'poll p99 ms',
      'errors',
    ],
    windows.map((w, i) => [
      String(i + 1),
      w.variant,
      String(w.churn.cycles.length),
      w.cpuShare.toFixed(3),
      String(w.polls?.total ?? '-'),
      w.polls === null ? '-' : String(w.polls.latencyMs.p50),
      w.polls === null ? '-' : String(w.polls.latencyMs.p99),
      JSON.stringify(w.churn.errors),
    ]),
  );
  const rateRatio = ratio(rate.polled, rate.alone);
  const goals = [
    atLeast(NAME, 'churn rate while polled ≥ 0.95× churn alone', rateRatio, 0.95, {
      measured: `${fmtRatio(rateRatio)} (${rate.polled.toFixed(1)}/min polled)`,
      baseline: `alone ${rate.alone.toFixed(1)}/min`,
    }),
    reported(
      NAME,
      "the API's CPU share while polled",
      `${cpu.polled} cores (${pollTotal} polls, p50 ${pollP50} ms, p99 ${pollP99} ms)`,
      `alone ${cpu.alone} cores`,
    ),
    atMost(NAME, '0 failed polls', pollBad, 0, {
      measured: `${pollBad} of ${pollTotal}`,
      baseline: '-',
    }),
    atMost(NAME, '0 leaked containers', leaked, 0, {
      measured: `${leaked} (delete errors ${deleteErrors})`,
      baseline: 'labelled with the run instance, after the fleet was deleted',
    }),
  ];
  const code = printGoals('Goals of poll-load (issue 16)', goals);
  const file = writeResults(NAME, {
    sandboxes: fleet.length,
    concurrency: CONCURRENCY,
    secondsPerVariant: SECONDS_PER_VARIANT,
    cyclesPerMinute: { polled: round(rate.polled, 1), alone: round(rate.alone, 1) },
    ratio: rateRatio,
    cpuShare: cpu,
    polls: { total: pollTotal, failed: pollBad, p50Ms: pollP50, p99Ms: pollP99 },
    churnErrors,
    leaked,
    windows: windows.map((w) => ({
      variant: w.variant,
      cycles: w.churn.cycles.length,
      cpuShare: w.cpuShare,
      polls: w.polls,
    })),
    goals,
  });
  log(`wrote ${file}`);
  return code;
});

/** `count` running sandboxes through the API, FLEET_CONCURRENCY at a time; their ids. */
async function createFleet(url: string, count: number, deadline: Deadline): Promise<string[]> {
  const ids: string[] = [];
  let wanted = count;
  let failures = 0;
  const worker = async (): Promise<void> => {
    while (wanted > 0) {
      wanted -= 1;
      deadline.check('creating the fleet');
      const answer = await callApi<SandboxAnswer>(url, 'POST', '/v1/sandboxes?wait=true', {
        image: CHURN_SANDBOX.image,
        cpus: CHURN_SANDBOX.cpus,
        memory: '16m',
      });
      const body = answer.body as SandboxAnswer | null;
      if (answer.status === 200 && body?.state === 'running') {
        ids.push(body.id);
        continue;
      }
      failures += 1;
      wanted += 1;
      log(`fleet create: HTTP ${answer.status} ${errorCodeOf(answer.body) ?? ''}`);
      if (failures > 20) throw new Error('more than 20 fleet creates failed');
    }
  };
  await Promise.all(Array.from({ length: FLEET_CONCURRENCY }, worker));
  return ids;
}

/** Deletes the fleet through the API; the number of deletes that did not answer 204. */
async function deleteFleet(url: string, ids: readonly string[]): Promise<number> {
  const queue = [...ids];
  let errors = 0;
  const worker = async (): Promise<void> => {
    for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
      const answer = await callApi(url, 'DELETE', `/v1/sandboxes/${id}?force=true`);
      if (answer.status !== 204) errors += 1;
    }
  };
  await Promise.all(Array.from({ length: FLEET_CONCURRENCY }, worker));
  return errors;
}

/** Containers still labelled with the run's instance, once the deletes had 10 s to settle. */
async function labelledContainersSettled(instanceId: string): Promise<number> {
  const docker = testDocker();
  const until = Date.now() + 10_000;
  let left = await labelledContainers(docker, instanceId);
  while (left > 0 && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    left = await labelledContainers(docker, instanceId);
  }
  return left;
}
