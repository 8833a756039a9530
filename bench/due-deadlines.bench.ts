/**
 * How fast is the auto-delete scan (SandboxMetaStore.dueForAutoDelete) on a big table, and how much
 * of that is the partial index IDX_sandbox_table_due_delete?
 *
 *   npx ts-node -r tsconfig-paths/register bench/due-deadlines.bench.ts
 *
 * Needs the PostgreSQL of the integration tests (TEST_DATABASE_URL; its role must be allowed to
 * CREATE DATABASE). Creates a scratch database, migrates it, fills it, measures, and drops it again
 * (also on failure or Ctrl-C). Prints a table and writes bench/results/due-deadlines.json.
 *
 *   A  the scan as the store runs it (same SQL, on a dedicated connection)
 *   B  the same SQL with index and bitmap scans disabled on its connection: the table without the
 *      index, i.e. a sequential scan plus a top-N sort
 *   A via API  SandboxMetaStore.dueForAutoDelete itself (adds TypeORM and pool overhead)
 *
 * Runs are interleaved (A, B, API; then rotated) so drift in the machine's load hits all equally.
 * Exits 1 if A's plan is not an Index Only Scan or A's median misses the target.
 * Env: BENCH_ROWS (default 100000 stopped rows), BENCH_SAMPLES (default 300 per variant).
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '@app/config';
import {
  MemoryKeyValueStore,
  SandboxMetaStore,
  buildDataSourceOptions,
  initializeDataSource,
} from '@app/meta-store';
import { Client } from 'pg';
import { dropDatabase } from '../test/support/database';
import { DataSource, QueryRunner } from 'typeorm';
import { buildDueForAutoDeleteQuery } from '../libs/meta-store/src/store/deadline-queries';
import {
  makeSandboxInfo,
  makeSandboxSpec,
  testKeyring,
} from '../libs/meta-store/src/testing/sandbox-fixtures';

const DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://sandboxd:sandboxd@127.0.0.1:5432/sandboxd_test';
const STOPPED_ROWS = positiveInt('BENCH_ROWS', 100_000);
const SAMPLES = Math.max(200, positiveInt('BENCH_SAMPLES', 300));
const WARMUP = 50;
const LIMIT = 100;
const TARGET_MEDIAN_MS = 20;
/** Deadlines one second apart from here: the rows span STOPPED_ROWS seconds. */
const BASE_MS = Date.parse('2026-01-01T00:00:00.000Z');
const RESULTS_FILE = join(__dirname, 'results', 'due-deadlines.json');

interface Stats {
  samples: number;
  medianMs: number;
  p95Ms: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
}

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Heap Fetches'?: number;
  'Actual Total Time'?: number;
  'Actual Rows'?: number;
  Plans?: PlanNode[];
}

async function main(): Promise<number> {
  const dbName = `sandboxd_bench_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: DATABASE_URL });
  await admin.connect();
  let dropped = false;
  const drop = async (): Promise<void> => {
    if (dropped) return;
    dropped = true;
    try {
      await dropDatabase(admin, dbName);
    } finally {
      await admin.end();
    }
    log(`dropped ${dbName}`);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: cleaning up`);
    interrupted = true;
    // Dropping (FORCE) also ends the measurement's connections, so main() fails and returns.
    void drop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    await admin.query(`CREATE DATABASE ${dbName}`);
    log(`created ${dbName}`);
    const url = new URL(DATABASE_URL);
    url.pathname = `/${dbName}`;
    const dataSource = await initializeDataSource(
      buildDataSourceOptions(loadConfig({ DATABASE_URL: url.toString() }).store, testKeyring()),
    );
    try {
      return await measure(dataSource);
    } finally {
      await dataSource.destroy();
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await drop();
  }
}

async function measure(dataSource: DataSource): Promise<number> {
  const counts = await seed(dataSource);
  const now = BASE_MS + Math.floor(STOPPED_ROWS / 2) * 1000;
  const [sql, params] = buildDueForAutoDeleteQuery(
    dataSource.manager,
    now,
    LIMIT,
  ).getQueryAndParameters();
  const store = new SandboxMetaStore(dataSource, new MemoryKeyValueStore(), testKeyring());

  const a = dataSource.createQueryRunner();
  const b = dataSource.createQueryRunner();
  try {
    // Session settings on B's own connection only; A and the store's pool keep the defaults.
    for (const setting of ['enable_indexscan', 'enable_indexonlyscan', 'enable_bitmapscan']) {
      await b.query(`SET ${setting} = off`);
    }
    const variants: { name: string; run: () => Promise<string[]> }[] = [
      { name: 'A', run: () => idsOf(a, sql, params) },
      { name: 'B', run: () => idsOf(b, sql, params) },
      { name: 'A via API', run: () => store.dueForAutoDelete(new Date(now), LIMIT) },
    ];

    const [fromA, fromB, fromApi] = await Promise.all(variants.map((v) => v.run()));
    if (
      fromA.length !== LIMIT ||
      fromB.join() !== fromA.join() ||
      fromApi.join() !== fromA.join()
    ) {
      throw new Error('A, B and the API disagree about the due ids; the comparison is meaningless');
    }

    log(`warm-up: ${WARMUP} runs each`);
    for (let i = 0; i < WARMUP; i += 1) for (const v of variants) await v.run();

    log(`measuring: ${SAMPLES} interleaved runs each`);
    const times = new Map(variants.map((v) => [v.name, [] as number[]]));
    for (let i = 0; i < SAMPLES; i += 1) {
      // Rotate the order so no variant always runs first (or right after another).
      for (let j = 0; j < variants.length; j += 1) {
        const v = variants[(i + j) % variants.length];
        const started = process.hrtime.bigint();
        await v.run();
        times.get(v.name)?.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
    }

    const planA = await explain(a, sql, params);
    const planB = await explain(b, sql, params);
    const stats = Object.fromEntries(
      variants.map((v) => [v.name, statsOf(times.get(v.name) ?? [])]),
    );
    const statsA = stats.A;
    const statsB = stats.B;
    const scanA = scanNode(planA.root);
    const scanB = scanNode(planB.root);
    const indexOnly = scanA['Node Type'] === 'Index Only Scan';
    const meetsTarget = statsA.medianMs < TARGET_MEDIAN_MS;

    printTable(stats);
    console.log(
      `\nB/A median ratio: ${(statsB.medianMs / statsA.medianMs).toFixed(1)}x` +
        `   p95 ratio: ${(statsB.p95Ms / statsA.p95Ms).toFixed(1)}x`,
    );
    console.log(`\nA plan (EXPLAIN ANALYZE):\n${planA.text}`);
    console.log(`\nB plan (EXPLAIN ANALYZE):\n${planB.text}`);
    console.log(
      `\nA scan node: ${describeNode(scanA)} -> ${indexOnly ? 'OK' : 'NOT an Index Only Scan'}`,
    );
    console.log(
      `A median ${statsA.medianMs.toFixed(3)} ms vs target < ${TARGET_MEDIAN_MS} ms -> ${meetsTarget ? 'OK' : 'MISSED'}`,
    );

    mkdirSync(join(__dirname, 'results'), { recursive: true });
    const version = (await a.query('SHOW server_version')) as { server_version: string }[];
    writeFileSync(
      RESULTS_FILE,
      `${JSON.stringify(
        {
          benchmark: 'due-deadlines',
          at: new Date().toISOString(),
          postgres: version[0]?.server_version ?? null,
          rows: counts,
          query: { sql, limit: LIMIT, now: new Date(now).toISOString() },
          warmup: WARMUP,
          stats,
          ratio: {
            median: statsB.medianMs / statsA.medianMs,
            p95: statsB.p95Ms / statsA.p95Ms,
          },
          plan: {
            A: { scanNode: describeNode(scanA), heapFetches: scanA['Heap Fetches'] ?? null },
            B: { scanNode: describeNode(scanB) },
            textA: planA.text,
            textB: planB.text,
          },
          targetMedianMs: TARGET_MEDIAN_MS,
          pass: indexOnly && meetsTarget,
        },
        null,
        2,
      )}\n`,
    );
    log(`wrote ${RESULTS_FILE}`);
    return indexOnly && meetsTarget ? 0 : 1;
  } finally {
    await a.release();
    await b.release();
  }
}

/**
 * The table of a long-running deployment: mostly stopped sandboxes with deadlines spread over
 * STOPPED_ROWS seconds (inserted in shuffled deadline order, so the heap is not accidentally
 * sorted), plus protected, live and deleted rows that the scan must skip. Rows carry a realistic
 * info/spec payload, since a scan without the index has to read the whole heap.
 */
async function seed(dataSource: DataSource): Promise<Record<string, number>> {
  const counts = {
    stopped: STOPPED_ROWS,
    // Protected rows with the earliest deadlines: without the predicate they would come first.
    stoppedProtected: Math.ceil(STOPPED_ROWS / 20),
    running: Math.ceil(STOPPED_ROWS / 10),
    deleted: Math.ceil(STOPPED_ROWS / 10),
  };
  const info = JSON.stringify(
    makeSandboxInfo({
      state: 'stopped',
      operation: null,
      labels: { team: 'bench', env: 'load-test' },
      envKeys: ['API_TOKEN', 'DATABASE_URL', 'LOG_LEVEL'],
      stateHistory: [
        { from: 'pending', to: 'running', event: 'started', at: '2026-01-01T00:00:01.000Z' },
        { from: 'running', to: 'stopped', event: 'stop', at: '2026-01-01T00:30:00.000Z' },
      ],
    }),
  );
  const spec = JSON.stringify(makeSandboxSpec({ labels: { team: 'bench', env: 'load-test' } }));
  const insert = async (
    label: string,
    count: number,
    state: string,
    autoDeleteSql: string,
    protectedSql: string,
    autoStopSql = 'NULL',
  ): Promise<void> => {
    const started = Date.now();
    await dataSource.query(
      `INSERT INTO sandbox_table (id, name, state, operation, image, labels, instance_id, created_at,
         started_at, stopped_at, deleted_at, spec, info, machine_snapshot, machine_version, version,
         auto_stop_at, auto_delete_at, protected)
       SELECT format('sbx-${label}-%s', lpad(i::text, 7, '0')), NULL, $1, NULL, 'alpine:3.20',
         '{"team":"bench","env":"load-test"}', 'bench-instance', $2, $2, $2, NULL, $3, $4,
         '{"value":"stopped"}', 'v1', 3, ${autoStopSql}, ${autoDeleteSql}, ${protectedSql}
       FROM generate_series(1, $5::int) AS i`,
      [state, BASE_MS - 86_400_000, spec, info, count],
    );
    log(`inserted ${count} ${label} rows in ${Date.now() - started} ms`);
  };
  // (i * 7919) mod n is a permutation of 0..n-1 (7919 is prime and does not divide n here), so
  // every deadline is distinct and the insert order is shuffled.
  const shuffledDeadline = (n: number): string =>
    `${BASE_MS}::bigint + ((i::bigint * 7919) % ${n}) * 1000`;
  if (STOPPED_ROWS % 7919 === 0) throw new Error('BENCH_ROWS must not be a multiple of 7919');
  await insert('stopped', counts.stopped, 'stopped', shuffledDeadline(STOPPED_ROWS), 'false');
  await insert(
    'protected',
    counts.stoppedProtected,
    'stopped',
    `${BASE_MS - 3_600_000}::bigint + i`,
    'true',
  );
  await insert('running', counts.running, 'running', 'NULL', 'false', `${BASE_MS}::bigint + i`);
  await insert('deleted', counts.deleted, 'deleted', `${BASE_MS - 3_600_000}::bigint + i`, 'false');
  const started = Date.now();
  // VACUUM as well as ANALYZE: it sets the visibility map, which lets an index-only scan skip the
  // heap. Autovacuum does the same on a real table after bulk changes.
  await dataSource.query('VACUUM ANALYZE sandbox_table');
  log(`VACUUM ANALYZE in ${Date.now() - started} ms`);
  return counts;
}

async function idsOf(runner: QueryRunner, sql: string, params: unknown[]): Promise<string[]> {
  const rows = (await runner.query(sql, params)) as { id: string }[];
  return rows.map((row) => row.id);
}

async function explain(
  runner: QueryRunner,
  sql: string,
  params: unknown[],
): Promise<{ root: PlanNode; text: string }> {
  const json = (await runner.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`, params)) as {
    'QUERY PLAN': { Plan: PlanNode }[];
  }[];
  const text = (await runner.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params)) as {
    'QUERY PLAN': string;
  }[];
  return {
    root: json[0]['QUERY PLAN'][0].Plan,
    text: text.map((line) => `  ${line['QUERY PLAN']}`).join('\n'),
  };
}

/** The node that reads the table: the first node below Limit/Sort with no children. */
function scanNode(node: PlanNode): PlanNode {
  return node.Plans === undefined || node.Plans.length === 0 ? node : scanNode(node.Plans[0]);
}

function describeNode(node: PlanNode): string {
  const index = node['Index Name'] === undefined ? '' : ` using ${node['Index Name']}`;
  const fetches =
    node['Heap Fetches'] === undefined ? '' : `, heap fetches ${node['Heap Fetches']}`;
  return `${node['Node Type']}${index} (rows ${node['Actual Rows'] ?? '?'}${fetches})`;
}

function statsOf(samples: number[]): Stats {
  const sorted = [...samples].sort((x, y) => x - y);
  // Nearest-rank percentiles: always an observed value.
  const at = (p: number): number =>
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
  return {
    samples: sorted.length,
    medianMs: round(at(50)),
    p95Ms: round(at(95)),
    meanMs: round(sorted.reduce((sum, t) => sum + t, 0) / sorted.length),
    minMs: round(sorted[0]),
    maxMs: round(sorted[sorted.length - 1]),
  };
}

function printTable(stats: Record<string, Stats>): void {
  const header = ['variant', 'samples', 'median ms', 'p95 ms', 'mean ms', 'min ms', 'max ms'];
  const rows = Object.entries(stats).map(([name, s]) => [
    name,
    String(s.samples),
    s.medianMs.toFixed(3),
    s.p95Ms.toFixed(3),
    s.meanMs.toFixed(3),
    s.minMs.toFixed(3),
    s.maxMs.toFixed(3),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(`\ndueForAutoDelete(now, ${LIMIT}) over ${STOPPED_ROWS} stopped rows`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

function log(message: string): void {
  console.error(`[bench] ${message}`);
}

/** Set on SIGINT/SIGTERM: the run's own failure is then expected and not reported. */
let interrupted = false;

main().then(
  (code) => process.exit(interrupted ? 130 : code),
  (error: unknown) => {
    if (interrupted) return process.exit(130);
    console.error(error);
    process.exit(1);
  },
);
