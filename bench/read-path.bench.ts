/**
 * How fast are reads: GET /v1/sandboxes/:id and GET /v1/sandboxes?limit=100 with 1,000 sandbox
 * records, on the embedded default (SQLite + in-process cache) and on PostgreSQL + Redis?
 *
 *   npx ts-node -r tsconfig-paths/register bench/read-path.bench.ts
 *
 * Needs the PostgreSQL and Redis of the integration tests and a build (npm run build): the server
 * is the production artifact, dist/apps/sandbox-api/main.js, in its own process on 127.0.0.1
 * (scheduler off, so nothing reconciles the fake records). No containers are created: the records
 * are inserted through SandboxMetaStore.insert before the server starts (with a fake container id;
 * reads never touch Docker), then every running one gets a keepalive through the API, which is
 * how a live sandbox's cache entry is written in the server (the embedded in-process cache lives
 * there). autocannon runs in a third process with BENCH_CONNECTIONS connections for
 * BENCH_DURATION seconds per route:
 *
 *   baseline         GET /health/live (a trivial route of the same app: HTTP + Nest overhead)
 *   by id (running)  GET /v1/sandboxes/:id, round robin over the 900 running sandboxes (cache)
 *   list limit=100   GET /v1/sandboxes?limit=100 (first page)
 *   by id (stopped)  GET /v1/sandboxes/:id over the 100 stopped ones (not cached: database)
 *   bare Express     GET /health/live of a bare Express 5 app (the service's HTTP layer without
 *                    Nest or any middleware), own process: a reference, not the service
 *   plain node:http  the same small JSON from node:http without any framework, own process: what
 *                    this machine allows at all
 *
 * Routes run interleaved in rotating order, BENCH_ROUNDS times each; the tables give the median
 * over the rounds and the ratio to the baseline. Target: GET by id (running) >= 5,000 req/s and
 * p99 < 20 ms on both backends; exits 1 when it is missed. Everything is removed at the end (app,
 * scratch database, SQLite folder, Redis keys). Writes bench/results/read-path.json.
 * Env: BENCH_RECORDS (1000), BENCH_DURATION (5 s), BENCH_ROUNDS (3), BENCH_CONNECTIONS (10),
 * BENCH_BACKENDS (comma-separated, default "embedded,postgres+redis").
 */
import 'reflect-metadata';
import { Backend, backendsFromEnv, benchEnv } from './support/app';
import { SandboxAnswer, callApi, expectStatus } from './support/http';
import { LoadGenerator, LoadSummary } from './support/load';
import { FakeState } from './support/records';
import { Cleanups, runBenchmark } from './support/run';
import { BenchServer, ReferenceServer, staleBuild } from './support/server';
import { seedRecords } from './support/store';
import {
  fmtMs,
  fmtRatio,
  log,
  median,
  positiveInt,
  printTable,
  ratio,
  round,
  writeResults,
} from './support/stats';

const RECORDS = positiveInt('BENCH_RECORDS', 1000);
const STOPPED = Math.floor(RECORDS / 10);
const DURATION = Math.min(30, positiveInt('BENCH_DURATION', 5));
const ROUNDS = Math.min(10, positiveInt('BENCH_ROUNDS', 3));
const CONNECTIONS = Math.min(100, positiveInt('BENCH_CONNECTIONS', 10));
const WARMUP_SECONDS = 2;
const BACKENDS = backendsFromEnv();
const TARGET_RPS = 5000;
const TARGET_P99_MS = 20;

const ROUTES = [
  'baseline',
  'byIdRunning',
  'list100',
  'byIdStopped',
  'bareExpress',
  'rawNode',
] as const;
type Route = (typeof ROUTES)[number];
const ROUTE_LABEL: Record<Route, string> = {
  baseline: 'GET /health/live (baseline)',
  byIdRunning: 'GET /v1/sandboxes/:id (running)',
  list100: 'GET /v1/sandboxes?limit=100',
  byIdStopped: 'GET /v1/sandboxes/:id (stopped)',
  bareExpress: 'bare Express 5 /health/live (reference)',
  rawNode: 'plain node:http /health/live (reference)',
};

interface RouteResult {
  rounds: LoadSummary[];
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  worstP99Ms: number;
  non2xx: number;
  errors: number;
}

runBenchmark('read-path', 900, async (cleanups, deadline) => {
  const stale = staleBuild();
  if (stale !== null) log(`WARNING: ${stale} is newer than the build; run "npm run build" first`);
  const load = await LoadGenerator.start(cleanups);
  const raw = await ReferenceServer.start('node:http', cleanups);
  const express = await ReferenceServer.start('express', cleanups);
  const results: Partial<Record<Backend, Record<Route, RouteResult>>> = {};

  for (const backend of BACKENDS) {
    deadline.check(backend);
    // This backend's app and stores go away before the next backend starts.
    const scoped = new Cleanups();
    cleanups.add(`${backend} backend`, () => scoped.runAll());
    const environment = await benchEnv(backend, { SCHEDULER_ENABLED: 'false' }, scoped);
    const states: FakeState[] = Array.from({ length: RECORDS }, (_, i) =>
      i % 10 === 9 ? 'stopped' : 'running',
    );
    const started = Date.now();
    const records = await seedRecords(environment.env, environment.instanceId, states);
    log(`${backend}: inserted ${records.length} records in ${Date.now() - started} ms`);
    const api = await BenchServer.start(environment.env, scoped);
    log(`${backend}: server pid ${api.pid} on ${api.url}`);
    const running = records.filter((r) => r.state === 'running').map((r) => r.id);
    const stopped = records.filter((r) => r.state === 'stopped').map((r) => r.id);
    const paths: Record<Route, string[]> = {
      baseline: ['/health/live'],
      byIdRunning: running.map((id) => `/v1/sandboxes/${id}`),
      list100: ['/v1/sandboxes?limit=100'],
      byIdStopped: stopped.map((id) => `/v1/sandboxes/${id}`),
      bareExpress: ['/health/live'],
      rawNode: ['/health/live'],
    };
    await keepAliveAll(api.url, running);
    await sanityCheck(api.url, running[0], stopped[0]);

    const job = (route: Route, durationSeconds: number) => ({
      url: route === 'rawNode' ? raw.url : route === 'bareExpress' ? express.url : api.url,
      paths: paths[route],
      connections: CONNECTIONS,
      durationSeconds,
    });
    for (const route of ROUTES) await load.run(job(route, WARMUP_SECONDS));

    const samples: Record<Route, LoadSummary[]> = {
      baseline: [],
      byIdRunning: [],
      list100: [],
      byIdStopped: [],
      bareExpress: [],
      rawNode: [],
    };
    for (let r = 0; r < ROUNDS; r += 1) {
      for (let k = 0; k < ROUTES.length; k += 1) {
        const route = ROUTES[(r + k) % ROUTES.length];
        deadline.check(`${backend} ${route}`);
        const summary = await load.run(job(route, DURATION));
        samples[route].push(summary);
        log(
          `${backend} round ${r + 1}/${ROUNDS} ${route}: ${Math.round(summary.requestsPerSec)} req/s, ` +
            `p99 ${summary.latencyMs.p99} ms, non-2xx ${summary.non2xx}`,
        );
      }
    }
    results[backend] = Object.fromEntries(
      ROUTES.map((route) => [route, summarize(samples[route])]),
    ) as Record<Route, RouteResult>;
    await scoped.runAll();
  }

  const verdicts: string[] = [];
  let pass = true;
  for (const backend of BACKENDS) {
    const byRoute = results[backend];
    if (!byRoute) continue;
    const base = byRoute.baseline;
    printTable(
      `${backend}: ${RECORDS} records (${RECORDS - STOPPED} running, ${STOPPED} stopped), ` +
        `${CONNECTIONS} connections, ${DURATION} s x ${ROUNDS} interleaved rounds (medians)`,
      [
        'route',
        'req/s',
        'p50 ms',
        'p99 ms',
        'worst p99 ms',
        'non-2xx',
        'req/s vs baseline',
        'p99 vs baseline',
      ],
      ROUTES.map((route) => {
        const s = byRoute[route];
        return [
          ROUTE_LABEL[route],
          String(Math.round(s.requestsPerSec)),
          fmtMs(s.p50Ms, 0),
          fmtMs(s.p99Ms, 0),
          fmtMs(s.worstP99Ms, 0),
          String(s.non2xx + s.errors),
          fmtRatio(ratio(s.requestsPerSec, base.requestsPerSec)),
          fmtRatio(ratio(s.p99Ms, base.p99Ms)),
        ];
      }),
    );
    const target = byRoute.byIdRunning;
    const ok =
      target.requestsPerSec >= TARGET_RPS &&
      target.p99Ms < TARGET_P99_MS &&
      target.non2xx + target.errors === 0;
    pass &&= ok;
    verdicts.push(
      `${backend}: GET by id ${Math.round(target.requestsPerSec)} req/s (target >= ${TARGET_RPS}), ` +
        `p99 ${target.p99Ms} ms (target < ${TARGET_P99_MS}) -> ${ok ? 'OK' : 'MISSED'}`,
    );
  }
  console.log('');
  for (const line of verdicts) console.log(line);

  const file = writeResults('read-path', {
    server: 'node dist/apps/sandbox-api/main.js (own process)',
    buildOlderThan: stale,
    records: { total: RECORDS, running: RECORDS - STOPPED, stopped: STOPPED },
    connections: CONNECTIONS,
    durationSeconds: DURATION,
    rounds: ROUNDS,
    warmupSeconds: WARMUP_SECONDS,
    routes: ROUTE_LABEL,
    results,
    ratioToBaseline: Object.fromEntries(
      BACKENDS.map((backend) => {
        const byRoute = results[backend];
        return [
          backend,
          byRoute
            ? Object.fromEntries(
                ROUTES.map((route) => [
                  route,
                  {
                    requestsPerSec: ratio(
                      byRoute[route].requestsPerSec,
                      byRoute.baseline.requestsPerSec,
                    ),
                    p99: ratio(byRoute[route].p99Ms, byRoute.baseline.p99Ms),
                  },
                ]),
              )
            : null,
        ];
      }),
    ),
    target: { route: 'byIdRunning', minRequestsPerSec: TARGET_RPS, maxP99Ms: TARGET_P99_MS },
    pass,
  });
  log(`wrote ${file}`);
  return pass ? 0 : 1;
});

/** One keepalive per running sandbox (10 at a time): writes its cache entry in the server. */
async function keepAliveAll(url: string, ids: readonly string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 10) {
    await Promise.all(
      ids.slice(i, i + 10).map(async (id) => {
        const answer = await callApi<SandboxAnswer>(url, 'POST', `/v1/sandboxes/${id}/keepalive`);
        expectStatus(answer, 200, 'keepalive');
      }),
    );
  }
}

/** One request of each kind answers as expected before any load is applied. */
async function sanityCheck(url: string, runningId: string, stoppedId: string): Promise<void> {
  const one = expectStatus(
    await callApi<SandboxAnswer>(url, 'GET', `/v1/sandboxes/${runningId}`),
    200,
    'GET by id',
  );
  if (one.id !== runningId || one.state !== 'running') throw new Error('GET by id: wrong answer');
  const other = expectStatus(
    await callApi<SandboxAnswer>(url, 'GET', `/v1/sandboxes/${stoppedId}`),
    200,
    'GET stopped by id',
  );
  if (other.state !== 'stopped') throw new Error('GET stopped by id: wrong answer');
  const page = expectStatus(
    await callApi<{ items: SandboxAnswer[] }>(url, 'GET', '/v1/sandboxes?limit=100'),
    200,
    'list',
  );
  if (page.items.length !== Math.min(100, RECORDS)) {
    throw new Error(`list: ${page.items.length} items`);
  }
}

function summarize(rounds: LoadSummary[]): RouteResult {
  return {
    rounds,
    requestsPerSec: round(median(rounds.map((s) => s.requestsPerSec)), 1),
    p50Ms: median(rounds.map((s) => s.latencyMs.p50)),
    p99Ms: median(rounds.map((s) => s.latencyMs.p99)),
    worstP99Ms: Math.max(...rounds.map((s) => s.latencyMs.p99)),
    non2xx: rounds.reduce((sum, s) => sum + s.non2xx, 0),
    errors: rounds.reduce((sum, s) => sum + s.errors + s.timeouts, 0),
  };
}
