/**
 * Does the service keep its speed on a host with hundreds of live sandboxes? Grows to 500 live
 * sandboxes and measures the API at 0, 100, 250 and 500 of them.
 *
 *   npx ts-node -r tsconfig-paths/register bench/density.bench.ts
 *
 * Needs the Docker engine, the PostgreSQL and Redis of the integration tests and a build (npm run
 * build). One built server (dist/apps/sandbox-api/main.js, own process) on PostgreSQL+Redis with
 * the scheduler on (auto-stop and auto-delete scans every second, Docker events, periodic
 * reconcile out of the way so only the timed pass runs). Sandboxes have no ports and tiny limits
 * (0.1 CPU, 16 MB; OVERCOMMIT_* raised) so 500 fit a 2-core host; they are created through the
 * API at BENCH_CONCURRENCY (8) at once. At each level (BENCH_LEVELS):
 *
 *   create     BENCH_SAMPLES (10) sequential creates (`POST /v1/sandboxes?wait=true`), each deleted
 *              after (not timed, not counted in the level), interleaved with Docker's own create +
 *              start of the same container (DirectSandboxes), so Docker's slowdown shows beside ours
 *   get, list  BENCH_REQUESTS (300) `GET /v1/sandboxes/:id` (random live ids) and as many
 *              `GET /v1/sandboxes?limit=100`, 4 at a time: p50, p99
 *   reconcile  one `POST /v1/admin/reconcile` (round trip) and its own duration from
 *              `sandboxd_scan_duration_seconds{scan="reconcile"}` (the /metrics sum delta)
 *   scans      the auto-stop and auto-delete scans the scheduler runs meanwhile: mean duration
 *              from the same histogram's sum/count deltas over a BENCH_IDLE_SECONDS (4) window
 *   process    RSS and heap after a full GC, and CPU: the share of a core used in the idle window
 *              (what the scheduler costs at that level) and over the whole measurement
 *
 * Goals at 500: reconcile pass ≤ 1 s; scans ≤ 50 ms; list p99 ≤ 50 ms; RSS growth ≤ 100 MB over
 * empty; create p50 ≤ 1.5× the one at 0 (Docker's own ratio reported beside it). The run ends by
 * deleting every sandbox through the API and checks: 0 containers left with the run's instance
 * label (then sweeps and counts again), 0 stuck records (every sandbox it made answers 404 or
 * deleted with no operation in flight), and a clean `GET /v1/admin/reconcile`. Any miss exits 1.
 * BENCH_PROFILE=<dir> records a CPU profile of the measurement at the top level into <dir>.
 * Writes bench/results/density.json (with `goals`).
 */
import 'reflect-metadata';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadConfig } from '@app/config';
import { DEMO_IMAGE, ensureDemoImage, testDocker } from '../test/support/docker';
import { benchEnv } from './support/app';
import { DirectSandboxes, labelledContainers, SandboxRequest } from './support/direct';
import { Goal, atMost, printGoals, reported } from './support/goals';
import { SandboxAnswer, callApi, errorCodeOf, expectStatus } from './support/http';
import { Deadline, runBenchmark } from './support/run';
import { cpuShare, cpuTicks } from './support/proc';
import { BenchServer, MemorySample, staleBuild } from './support/server';
import {
  fmtMs,
  fmtRatio,
  log,
  percentile,
  positiveInt,
  printTable,
  ratio,
  round,
  statsOf,
  writeResults,
} from './support/stats';

const LEVELS = levelsFromEnv();
const CONCURRENCY = positiveInt('BENCH_CONCURRENCY', 8);
const SAMPLES = positiveInt('BENCH_SAMPLES', 10);
const REQUESTS = positiveInt('BENCH_REQUESTS', 300);
const IDLE_SECONDS = positiveInt('BENCH_IDLE_SECONDS', 4);
const READERS = 4;
const SANDBOX: SandboxRequest = { image: DEMO_IMAGE, cpus: 0.1, memory: '16m', ports: [] };
const CREATE_BODY = { image: SANDBOX.image, cpus: SANDBOX.cpus, memory: SANDBOX.memory };

interface Level {
  live: number;
  create: { apiP50Ms: number; apiP95Ms: number; dockerP50Ms: number; dockerP95Ms: number };
  get: { p50Ms: number; p99Ms: number; errors: number } | null;
  list: { p50Ms: number; p99Ms: number; errors: number; items: number };
  reconcile: { roundTripMs: number; passMs: number | null; actions: number };
  scans: {
    autoStopMs: number | null;
    autoStopRuns: number;
    autoDeleteMs: number | null;
    autoDeleteRuns: number;
  };
  memory: MemorySample;
  cpu: { idleShare: number; measureShare: number };
}

runBenchmark('density', 600, async (cleanups, deadline) => {
  const stale = staleBuild();
  if (stale !== null) log(`WARNING: ${stale} is newer than the build; run "npm run build" first`);
  await ensureDemoImage();
  const { env, instanceId } = await benchEnv(
    'postgres+redis',
    {
      SCHEDULER_ENABLED: 'true',
      SCHEDULER_INTERVAL_SECONDS: '1',
      RECONCILE_INTERVAL_SECONDS: '86400',
      OVERCOMMIT_CPU: '1000',
      OVERCOMMIT_MEMORY: '1000',
      LOCK_WAIT_SECONDS: '120',
    },
    cleanups,
  );
  const server = await BenchServer.start(env, cleanups);
  const docker = testDocker();
  const direct = new DirectSandboxes(docker, loadConfig(env), { from: 47000, to: 47999 });
  log(`server ${server.pid}, instance ${instanceId}, levels ${LEVELS.join(', ')}`);

  const live: string[] = [];
  const made = new Set<string>();
  const levels: Level[] = [];
  const started = performance.now();
  let createErrors = 0;
  const profileDir = process.env.BENCH_PROFILE;

  for (const target of LEVELS) {
    deadline.check(`growing to ${target}`);
    const growStarted = performance.now();
    createErrors += await grow(server.url, live, made, target, deadline);
    log(
      `${live.length} live (grown in ${((performance.now() - growStarted) / 1000).toFixed(1)} s)`,
    );
    const top = target === LEVELS[LEVELS.length - 1];
    const path =
      top && profileDir ? join(profileDir, `density-${target}-${Date.now()}.cpuprofile`) : null;
    if (path !== null) mkdirSync(dirname(path), { recursive: true });
    const stopProfile = path === null ? null : await server.startProfile(path);
    levels.push(await measureLevel(server, direct, live, made, deadline));
    if (stopProfile !== null) {
      await stopProfile();
      log(`profile written to ${path}`);
    }
    printLevel(levels[levels.length - 1]);
  }

  // The end state: everything deleted through the API, then checked three ways.
  deadline.check('deleting');
  const deleteStarted = performance.now();
  const deleteErrors = await deleteAll(server.url, live.splice(0));
  const deleteMs = performance.now() - deleteStarted;
  const leftLabelled = await waitForNoContainers(docker, instanceId);
  const stuck = await stuckRecords(server.url, [...made]);
  const drift = expectStatus<{ drift: unknown[] }>(
    await callApi(server.url, 'GET', '/v1/admin/reconcile'),
    200,
    'drift report',
  ).drift;
  await server.stop();
  const afterSweep = await labelledContainers(docker, instanceId);
  await cleanups.runAll();
  const leaked = await labelledContainers(docker, instanceId);
  log(
    `deleted in ${(deleteMs / 1000).toFixed(1)} s; total ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );

  const goals = goalsOf(levels, { leftLabelled, leaked, stuck: stuck.length, drift: drift.length });
  printTable(
    'end of run',
    ['check', 'value'],
    [
      ['sandboxes made (levels + samples)', String(made.size)],
      ['create errors while growing', String(createErrors)],
      ['delete errors', String(deleteErrors)],
      ['containers labelled after the API deletes', String(leftLabelled)],
      ['containers labelled after the server stopped', String(afterSweep)],
      ['containers labelled after the sweep', String(leaked)],
      ['stuck records', String(stuck.length)],
      ['drift after the deletes', String(drift.length)],
    ],
  );
  const code = printGoals('density goals at the top level', goals);
  const file = writeResults('density', {
    settings: { LEVELS, CONCURRENCY, SAMPLES, REQUESTS, IDLE_SECONDS, sandbox: SANDBOX },
    stale,
    levels,
    end: {
      made: made.size,
      createErrors,
      deleteErrors,
      deleteMs: round(deleteMs),
      leftLabelled,
      afterSweep,
      leaked,
      stuck,
      drift,
    },
    goals,
  });
  log(`results in ${file}`);
  return code !== 0 || createErrors > 0 || deleteErrors > 0 ? 1 : 0;
});

/** Creates sandboxes through the API, CONCURRENCY at a time, until `live` has `target`. */
async function grow(
  url: string,
  live: string[],
  made: Set<string>,
  target: number,
  deadline: Deadline,
): Promise<number> {
  let errors = 0;
  let wanted = target - live.length;
  const worker = async (): Promise<void> => {
    while (wanted > 0) {
      wanted -= 1;
      deadline.check('create');
      const answer = await callApi<SandboxAnswer>(
        url,
        'POST',
        '/v1/sandboxes?wait=true',
        CREATE_BODY,
      );
      if (answer.status === 200 && (answer.body as SandboxAnswer).state === 'running') {
        const { id } = answer.body as SandboxAnswer;
        made.add(id);
        live.push(id);
      } else {
        errors += 1;
        const id = (answer.body as SandboxAnswer | null)?.id;
        if (typeof id === 'string') made.add(id);
        log(`create failed: HTTP ${answer.status} ${errorCodeOf(answer.body) ?? ''}`);
        if (errors > 20) throw new Error('more than 20 creates failed');
        wanted += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return errors;
}

async function measureLevel(
  server: BenchServer,
  direct: DirectSandboxes,
  live: string[],
  made: Set<string>,
  deadline: Deadline,
): Promise<Level> {
  const cpuStart = cpuTicks(server.pid);
  const wallStart = performance.now();

  // create→running, ours and Docker's, pairs interleaved; each sandbox goes before the next.
  const api: number[] = [];
  const engine: number[] = [];
  for (let i = 0; i < SAMPLES; i += 1) {
    deadline.check('create samples');
    const order = i % 2 === 0 ? ['api', 'docker'] : ['docker', 'api'];
    for (const side of order) {
      if (side === 'api') api.push(await timedApiCreate(server.url, made));
      else engine.push(await timedDirectCreate(direct));
    }
  }

  // Reads: by id over the live ones (one extra sandbox when there are none), and the first page.
  let extra: string | null = null;
  if (live.length === 0) {
    const answer = await callApi<SandboxAnswer>(
      server.url,
      'POST',
      '/v1/sandboxes?wait=true',
      CREATE_BODY,
    );
    extra = expectStatus(answer, 200, 'read target').id;
    made.add(extra);
  }
  const ids = extra === null ? live : [extra];
  const get = await timedReads(
    server.url,
    () => `/v1/sandboxes/${ids[Math.floor(Math.random() * ids.length)]}`,
  );
  const list = await timedReads(server.url, () => '/v1/sandboxes?limit=100');
  if (extra !== null) await callApi(server.url, 'DELETE', `/v1/sandboxes/${extra}?force=true`);
  const listed = expectStatus<{ items: unknown[] }>(
    await callApi(server.url, 'GET', '/v1/sandboxes?limit=100'),
    200,
    'list',
  ).items.length;

  // One full reconcile pass, timed from outside and from its own histogram.
  const before = await scanMetrics(server.url);
  const reconcileStarted = performance.now();
  const actions = expectStatus<{ actions: unknown[] }>(
    await callApi(server.url, 'POST', '/v1/admin/reconcile'),
    200,
    'reconcile',
  ).actions.length;
  const roundTripMs = performance.now() - reconcileStarted;
  const afterReconcile = await scanMetrics(server.url);

  // The scheduler's own scans over an idle window, and what idling costs in CPU.
  const idleCpu = cpuTicks(server.pid);
  const idleStarted = performance.now();
  await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000));
  const idleCpuShare = cpuShare(cpuTicks(server.pid) - idleCpu, performance.now() - idleStarted);
  const afterIdle = await scanMetrics(server.url);
  const measureShare = cpuShare(cpuTicks(server.pid) - cpuStart, performance.now() - wallStart);
  const memory = await server.memory();

  const mean = (scan: keyof ScanMetrics): { ms: number | null; runs: number } => {
    const runs = afterIdle[scan].count - afterReconcile[scan].count;
    const sum = afterIdle[scan].sum - afterReconcile[scan].sum;
    return { ms: runs > 0 ? round((sum / runs) * 1000) : null, runs };
  };
  const reconcileRuns = afterReconcile.reconcile.count - before.reconcile.count;
  const stop = mean('auto-stop');
  const del = mean('auto-delete');
  const apiStats = statsOf(api);
  const dockerStats = statsOf(engine);
  return {
    live: live.length,
    create: {
      apiP50Ms: apiStats.medianMs,
      apiP95Ms: apiStats.p95Ms,
      dockerP50Ms: dockerStats.medianMs,
      dockerP95Ms: dockerStats.p95Ms,
    },
    get: { p50Ms: get.p50Ms, p99Ms: get.p99Ms, errors: get.errors },
    list: { ...list, items: listed },
    reconcile: {
      roundTripMs: round(roundTripMs),
      passMs:
        reconcileRuns === 1
          ? round((afterReconcile.reconcile.sum - before.reconcile.sum) * 1000)
          : null,
      actions,
    },
    scans: {
      autoStopMs: stop.ms,
      autoStopRuns: stop.runs,
      autoDeleteMs: del.ms,
      autoDeleteRuns: del.runs,
    },
    memory,
    cpu: { idleShare: idleCpuShare, measureShare },
  };
}

async function timedApiCreate(url: string, made: Set<string>): Promise<number> {
  const begun = performance.now();
  const answer = await callApi<SandboxAnswer>(url, 'POST', '/v1/sandboxes?wait=true', CREATE_BODY);
  const ms = performance.now() - begun;
  const { id } = expectStatus(answer, 200, 'sampled create');
  made.add(id);
  expectStatus(
    await callApi(url, 'DELETE', `/v1/sandboxes/${id}?force=true`),
    204,
    'delete sample',
  );
  return ms;
}

async function timedDirectCreate(direct: DirectSandboxes): Promise<number> {
  const id = direct.newId();
  const begun = performance.now();
  const containerId = await direct.createAndStart(id, SANDBOX, []);
  const ms = performance.now() - begun;
  await direct.remove(containerId, id);
  return ms;
}

/** REQUESTS GETs, READERS at a time: nearest-rank p50 and p99 of the round trips. */
async function timedReads(
  url: string,
  path: () => string,
): Promise<{ p50Ms: number; p99Ms: number; errors: number }> {
  const times: number[] = [];
  let errors = 0;
  let left = REQUESTS;
  const reader = async (): Promise<void> => {
    while (left > 0) {
      left -= 1;
      const answer = await callApi(url, 'GET', path());
      if (answer.status !== 200) errors += 1;
      times.push(answer.ms);
    }
  };
  await Promise.all(Array.from({ length: READERS }, reader));
  const sorted = times.sort((a, b) => a - b);
  return { p50Ms: round(percentile(sorted, 50)), p99Ms: round(percentile(sorted, 99)), errors };
}

/** `DELETE ?force=true` of every id, CONCURRENCY at a time; returns the failures. */
async function deleteAll(url: string, ids: string[]): Promise<number> {
  let errors = 0;
  const worker = async (): Promise<void> => {
    for (let id = ids.pop(); id !== undefined; id = ids.pop()) {
      const answer = await callApi(url, 'DELETE', `/v1/sandboxes/${id}?force=true`);
      if (answer.status !== 204 && answer.status !== 404) {
        errors += 1;
        log(`delete ${id}: HTTP ${answer.status} ${errorCodeOf(answer.body) ?? ''}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return errors;
}

/** Labelled containers left once the deletes answered (waits up to 10 s for them to go). */
async function waitForNoContainers(
  docker: ReturnType<typeof testDocker>,
  instanceId: string,
): Promise<number> {
  const until = Date.now() + 10_000;
  for (;;) {
    const left = await labelledContainers(docker, instanceId);
    if (left === 0 || Date.now() > until) return left;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Sandboxes the run made that are not gone: neither 404 nor deleted without an operation. */
async function stuckRecords(url: string, ids: string[]): Promise<string[]> {
  const stuck: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ids.length) {
      const id = ids[next++];
      const answer = await callApi<SandboxAnswer>(url, 'GET', `/v1/sandboxes/${id}`);
      if (answer.status === 404) continue;
      const body = answer.body as SandboxAnswer;
      if (answer.status !== 200 || body.state !== 'deleted' || body.operation !== null) {
        stuck.push(`${id} (${answer.status} ${body?.state ?? ''} ${body?.operation ?? ''})`);
      }
    }
  };
  await Promise.all(Array.from({ length: READERS }, worker));
  return stuck;
}

type ScanMetrics = Record<
  'reconcile' | 'auto-stop' | 'auto-delete',
  { sum: number; count: number }
>;

/** The scan-duration histogram's sums and counts, from /metrics. */
async function scanMetrics(url: string): Promise<ScanMetrics> {
  const response = await fetch(`${url}/metrics`);
  if (!response.ok) throw new Error(`/metrics: HTTP ${response.status}`);
  const text = await response.text();
  const read = (scan: string, kind: 'sum' | 'count'): number => {
    const line = new RegExp(
      `^sandboxd_scan_duration_seconds_${kind}\\{scan="${scan}"\\} (\\S+)$`,
      'm',
    );
    const match = line.exec(text);
    return match ? Number(match[1]) : 0;
  };
  const of = (scan: string) => ({ sum: read(scan, 'sum'), count: read(scan, 'count') });
  return {
    reconcile: of('reconcile'),
    'auto-stop': of('auto-stop'),
    'auto-delete': of('auto-delete'),
  };
}

function printLevel(level: Level): void {
  const mb = (bytes: number): string => (bytes / 1048576).toFixed(1);
  printTable(
    `at ${level.live} live sandboxes`,
    ['figure', 'value'],
    [
      [
        'create→running p50 / p95 (ms)',
        `${fmtMs(level.create.apiP50Ms)} / ${fmtMs(level.create.apiP95Ms)}`,
      ],
      [
        'Docker create+start p50 / p95 (ms)',
        `${fmtMs(level.create.dockerP50Ms)} / ${fmtMs(level.create.dockerP95Ms)}`,
      ],
      [
        'GET by id p50 / p99 (ms)',
        level.get ? `${fmtMs(level.get.p50Ms, 2)} / ${fmtMs(level.get.p99Ms, 2)}` : 'n/a',
      ],
      [
        'list limit=100 p50 / p99 (ms)',
        `${fmtMs(level.list.p50Ms, 2)} / ${fmtMs(level.list.p99Ms, 2)}`,
      ],
      [
        'reconcile pass / round trip (ms)',
        `${fmtMs(level.reconcile.passMs ?? NaN)} / ${fmtMs(level.reconcile.roundTripMs)}`,
      ],
      [
        'auto-stop scan mean (ms, runs)',
        `${fmtMs(level.scans.autoStopMs ?? NaN, 2)} (${level.scans.autoStopRuns})`,
      ],
      [
        'auto-delete scan mean (ms, runs)',
        `${fmtMs(level.scans.autoDeleteMs ?? NaN, 2)} (${level.scans.autoDeleteRuns})`,
      ],
      ['RSS / heap used after GC (MB)', `${mb(level.memory.rss)} / ${mb(level.memory.heapUsed)}`],
      [
        'CPU idle / while measured (core share)',
        `${level.cpu.idleShare} / ${level.cpu.measureShare}`,
      ],
    ],
  );
}

function goalsOf(
  levels: Level[],
  end: { leftLabelled: number; leaked: number; stuck: number; drift: number },
): Goal[] {
  const base = levels[0];
  const top = levels[levels.length - 1];
  const at = `at ${top.live}`;
  const b = 'density';
  const ms = (v: number | null): string => (v === null ? 'n/a' : `${fmtMs(v)} ms`);
  const apiRatio = ratio(top.create.apiP50Ms, base.create.apiP50Ms);
  const dockerRatio = ratio(top.create.dockerP50Ms, base.create.dockerP50Ms);
  const rssGrowth = (top.memory.rss - base.memory.rss) / 1048576;
  const scanMs = Math.max(top.scans.autoStopMs ?? Infinity, top.scans.autoDeleteMs ?? Infinity);
  return [
    atMost(b, `reconcile pass ≤ 1 s ${at}`, top.reconcile.passMs, 1000, {
      measured: ms(top.reconcile.passMs),
      baseline: `at ${base.live}: ${ms(base.reconcile.passMs)}`,
    }),
    atMost(b, `auto-stop and auto-delete scans ≤ 50 ms ${at}`, scanMs, 50, {
      measured: `${ms(top.scans.autoStopMs)}, ${ms(top.scans.autoDeleteMs)}`,
      baseline: `at ${base.live}: ${ms(base.scans.autoStopMs)}, ${ms(base.scans.autoDeleteMs)}`,
    }),
    atMost(b, `list (limit=100) p99 ≤ 50 ms ${at}`, top.list.p99Ms, 50, {
      measured: ms(top.list.p99Ms),
      baseline: `at ${base.live}: ${ms(base.list.p99Ms)}`,
    }),
    reported(
      b,
      `GET by id p99 ${at}`,
      ms(top.get?.p99Ms ?? null),
      `at ${base.live}: ${ms(base.get?.p99Ms ?? null)}`,
    ),
    atMost(b, `RSS growth ≤ 100 MB over empty ${at}`, rssGrowth, 100, {
      measured: `${rssGrowth.toFixed(1)} MB`,
      baseline: `empty: ${(base.memory.rss / 1048576).toFixed(1)} MB`,
    }),
    atMost(b, `create p50 ${at} ≤ 1.5× at ${base.live}`, apiRatio, 1.5, {
      measured: `${fmtRatio(apiRatio)} (${ms(top.create.apiP50Ms)})`,
      baseline: `at ${base.live}: ${ms(base.create.apiP50Ms)}; Docker ${fmtRatio(dockerRatio)} (${ms(base.create.dockerP50Ms)} → ${ms(top.create.dockerP50Ms)})`,
    }),
    reported(
      b,
      `API CPU idle ${at} (core share)`,
      String(top.cpu.idleShare),
      `at ${base.live}: ${base.cpu.idleShare}`,
    ),
    atMost(b, 'leaked containers at the end', end.leftLabelled + end.leaked, 0, {
      measured: `${end.leftLabelled} after the deletes, ${end.leaked} after the sweep`,
      baseline: '0',
    }),
    atMost(b, 'stuck records at the end', end.stuck, 0, {
      measured: String(end.stuck),
      baseline: '0',
    }),
    atMost(b, 'drift in GET /v1/admin/reconcile at the end', end.drift, 0, {
      measured: String(end.drift),
      baseline: '0',
    }),
  ];
}

/** BENCH_LEVELS: comma-separated live-sandbox counts, ascending, the first usually 0. */
function levelsFromEnv(): number[] {
  const raw = process.env.BENCH_LEVELS;
  if (raw === undefined || raw.trim() === '') return [0, 100, 250, 500];
  const levels = raw.split(',').map((v) => Number(v.trim()));
  if (levels.some((v, i) => !Number.isInteger(v) || v < 0 || (i > 0 && v <= levels[i - 1]))) {
    throw new Error('BENCH_LEVELS must be ascending non-negative integers, e.g. 0,100,250,500');
  }
  return levels;
}
