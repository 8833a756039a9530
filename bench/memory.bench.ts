/**
 * How much memory does the service hold: the RSS of a real API process with 0 and with 1,000 live
 * sandbox records, after a warm-up of reads?
 *
 *   npx ts-node -r tsconfig-paths/register bench/memory.bench.ts
 *
 * Needs a build (npm run build) and, for the postgres+redis backend, the PostgreSQL and Redis of
 * the integration tests. Each run starts dist/apps/sandbox-api/main.js in a fresh process (with
 * --expose-gc, scheduler off so nothing reconciles the fake records) on fresh stores:
 *
 *   empty   no records
 *   loaded  BENCH_RECORDS running sandbox records (no containers), inserted through
 *           SandboxMetaStore.insert before the server starts
 *
 * Both then get the same warm-up, request for request: one keepalive per record id (on the
 * loaded server this writes the live sandbox's cache entry in the server, which is where the
 * embedded backend keeps it; on the empty one it is a 404), two passes of GET /v1/sandboxes/:id
 * over the ids, and two passes over the list pages (limit=100). After a second of quiet the
 * server runs a full GC and reports process.memoryUsage() (three samples, median). Runs are
 * interleaved (empty, loaded, loaded, empty, …), BENCH_ROUNDS of each per backend; the tables give
 * median and p95 (nearest rank) over the runs and the loaded/empty ratio. Everything is removed at
 * the end. Writes bench/results/memory.json.
 * Env: BENCH_RECORDS (1000), BENCH_ROUNDS (3), BENCH_BACKENDS (default "embedded,postgres+redis").
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Backend, backendsFromEnv, benchEnv } from './support/app';
import { SandboxAnswer, callApi } from './support/http';
import { Cleanups, runBenchmark } from './support/run';
import { BenchServer, MemorySample, staleBuild } from './support/server';
import {
  fmtRatio,
  interleaved,
  log,
  positiveInt,
  printTable,
  ratio,
  round,
  statsOf,
  writeResults,
} from './support/stats';
import { seedRecords } from './support/store';

const RECORDS = Math.min(10_000, positiveInt('BENCH_RECORDS', 1000));
const ROUNDS = Math.min(10, Math.max(2, positiveInt('BENCH_ROUNDS', 3)));
const BACKENDS = backendsFromEnv();
const PAGE = 100;
const SETTLE_MS = 1000;
const SAMPLES_PER_RUN = 3;
const MB = 1024 * 1024;
type Variant = 'empty' | 'loaded';

interface Run {
  backend: Backend;
  variant: Variant;
  round: number;
  /** Median of the samples after the warm-up. */
  memory: MemorySample;
  /** Right after start-up, before any request (one sample). */
  atStart: MemorySample;
  warmupRequests: number;
}

runBenchmark('memory', 900, async (cleanups, deadline) => {
  const stale = staleBuild();
  if (stale !== null) log(`WARNING: ${stale} is newer than the build; run "npm run build" first`);
  const runs: Run[] = [];

  for (const backend of BACKENDS) {
    for (let r = 0; r < ROUNDS; r += 1) {
      for (const variant of interleaved<Variant>(r, 'empty', 'loaded')) {
        deadline.check(`${backend} ${variant} round ${r + 1}`);
        const scoped = new Cleanups();
        cleanups.add(`${backend} ${variant} run`, () => scoped.runAll());
        const environment = await benchEnv(backend, { SCHEDULER_ENABLED: 'false' }, scoped);
        const ids =
          variant === 'loaded'
            ? (
                await seedRecords(
                  environment.env,
                  environment.instanceId,
                  Array.from({ length: RECORDS }, () => 'running' as const),
                )
              ).map((record) => record.id)
            : Array.from({ length: RECORDS }, (_, i) => unknownId(i));
        const server = await BenchServer.start(environment.env, scoped);
        const atStart = await server.memory();
        const warmupRequests = await warmUp(server.url, ids, variant === 'loaded' ? 200 : 404);
        await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
        const samples: MemorySample[] = [];
        for (let i = 0; i < SAMPLES_PER_RUN; i += 1) {
          samples.push(await server.memory());
          await new Promise((resolve) => setTimeout(resolve, 300));
        }
        const run: Run = {
          backend,
          variant,
          round: r + 1,
          memory: medianSample(samples),
          atStart,
          warmupRequests,
        };
        runs.push(run);
        log(
          `${backend} round ${r + 1} ${variant}: RSS ${mb(run.memory.rss)} MB, ` +
            `heap used ${mb(run.memory.heapUsed)} MB (${warmupRequests} warm-up requests)`,
        );
        await scoped.runAll();
      }
    }
  }

  const summary: Record<string, unknown> = {};
  for (const backend of BACKENDS) {
    const of = (variant: Variant) =>
      runs.filter((x) => x.backend === backend && x.variant === variant);
    type Pick = (run: Run) => number | null;
    const stat = (variant: Variant, pick: Pick) =>
      statsOf(
        of(variant)
          .map(pick)
          .filter((v): v is number => v !== null)
          .map((v) => v / MB),
      );
    const metrics: [string, Pick][] = [
      ['RSS', (x) => x.memory.rss],
      ['heap used', (x) => x.memory.heapUsed],
      ['heap total', (x) => x.memory.heapTotal],
      ['external', (x) => x.memory.external],
      ['peak RSS (VmHWM)', (x) => x.memory.peakRss],
      ['RSS at start, before warm-up', (x) => x.atStart.rss],
      ['heap used at start', (x) => x.atStart.heapUsed],
    ];
    const rows = metrics.map(([name, pick]) => {
      const e = stat('empty', pick);
      const l = stat('loaded', pick);
      return [
        `${name} MB`,
        e.medianMs.toFixed(1),
        e.p95Ms.toFixed(1),
        l.medianMs.toFixed(1),
        l.p95Ms.toFixed(1),
        (l.medianMs - e.medianMs).toFixed(1),
        fmtRatio(ratio(l.medianMs, e.medianMs)),
      ];
    });
    const rssEmpty = stat('empty', (x) => x.memory.rss);
    const rssLoaded = stat('loaded', (x) => x.memory.rss);
    const heapEmpty = stat('empty', (x) => x.memory.heapUsed);
    const heapLoaded = stat('loaded', (x) => x.memory.heapUsed);
    printTable(
      `${backend}: service memory after warm-up, 0 vs ${RECORDS} live records, ${ROUNDS} interleaved runs each (median, p95 nearest rank)`,
      [
        'metric',
        'empty median',
        'empty p95',
        'loaded median',
        'loaded p95',
        'loaded - empty',
        'ratio loaded/empty',
      ],
      rows,
    );
    const perRecordKb = ((rssLoaded.medianMs - rssEmpty.medianMs) * 1024) / RECORDS;
    const heapPerRecordKb = ((heapLoaded.medianMs - heapEmpty.medianMs) * 1024) / RECORDS;
    console.log(
      `  per record: RSS ${perRecordKb.toFixed(2)} KB, heap used ${heapPerRecordKb.toFixed(2)} KB`,
    );
    summary[backend] = {
      rssMb: { empty: rssEmpty, loaded: rssLoaded },
      heapUsedMb: { empty: heapEmpty, loaded: heapLoaded },
      ratio: {
        rssMedian: ratio(rssLoaded.medianMs, rssEmpty.medianMs),
        rssP95: ratio(rssLoaded.p95Ms, rssEmpty.p95Ms),
        heapUsedMedian: ratio(heapLoaded.medianMs, heapEmpty.medianMs),
      },
      deltaRssMb: round(rssLoaded.medianMs - rssEmpty.medianMs),
      perRecordKb: { rss: round(perRecordKb), heapUsed: round(heapPerRecordKb) },
    };
  }

  const file = writeResults('memory', {
    server: 'node --expose-gc dist/apps/sandbox-api/main.js (own process, SCHEDULER_ENABLED=false)',
    buildOlderThan: stale,
    records: RECORDS,
    rounds: ROUNDS,
    samplesPerRun: SAMPLES_PER_RUN,
    summary,
    runs,
  });
  log(`wrote ${file}`);
  return 0;
});

/**
 * The same request sequence for both variants: keepalive per id, then two passes of GET by id and
 * two passes over the list pages. Returns how many requests it sent; throws on an unexpected status.
 */
async function warmUp(url: string, ids: readonly string[], expected: number): Promise<number> {
  let sent = 0;
  const batch = async (paths: string[], method: 'GET' | 'POST', status: number): Promise<void> => {
    for (let i = 0; i < paths.length; i += 10) {
      await Promise.all(
        paths.slice(i, i + 10).map(async (path) => {
          const answer = await callApi<SandboxAnswer>(url, method, path);
          sent += 1;
          if (answer.status !== status) {
            throw new Error(`${method} ${path}: expected ${status}, got ${answer.status}`);
          }
        }),
      );
    }
  };
  await batch(
    ids.map((id) => `/v1/sandboxes/${id}/keepalive`),
    'POST',
    expected,
  );
  const pages = Math.max(1, Math.ceil(ids.length / PAGE));
  for (let pass = 0; pass < 2; pass += 1) {
    await batch(
      ids.map((id) => `/v1/sandboxes/${id}`),
      'GET',
      expected,
    );
    let cursor: string | null = null;
    for (let page = 0; page < pages; page += 1) {
      const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
      const answer = await callApi<{ items: SandboxAnswer[]; nextCursor: string | null }>(
        url,
        'GET',
        `/v1/sandboxes?limit=${PAGE}${query}`,
      );
      sent += 1;
      if (answer.status !== 200 || answer.body === null || !('items' in answer.body)) {
        throw new Error(`list page ${page + 1}: HTTP ${answer.status}`);
      }
      // The empty server has one (empty) page: ask for it again, so both send as many requests.
      cursor = answer.body.nextCursor;
    }
  }
  return sent;
}

/** An id in the service's format that no record has. */
function unknownId(index: number): string {
  return `${(Date.now() + index).toString(36).padStart(9, '0')}${randomBytes(8).toString('hex')}`;
}

function medianSample(samples: MemorySample[]): MemorySample {
  const sorted = [...samples].sort((a, b) => a.rss - b.rss);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

function mb(bytes: number): string {
  return (bytes / MB).toFixed(1);
}
