/**
 * How fast is `GET /v1/sandboxes?label=k=v…` (the store's list query) with 1, 8 and 64 label
 * filters over a big table, on SQLite and on PostgreSQL?
 *
 *   npx ts-node -r tsconfig-paths/register bench/label-filters.bench.ts
 *
 * Needs the PostgreSQL of the integration tests (TEST_DATABASE_URL; its role must be allowed to
 * CREATE DATABASE). Per backend: a scratch database (PostgreSQL) or a temporary file (SQLite),
 * migrated, filled through the store with BENCH_ROWS sandboxes (default 10,000) of 64 labels each,
 * measured, and removed again (also on failure, Ctrl-C or the time budget). Prints a table and
 * writes bench/results/label-filters.json.
 *
 * Sandbox i carries k0=v0 … k62=v62 (on every sandbox) and k63=g<i mod 10>, so each filter set
 * (the n-1 first common pairs plus k63=g0) matches a tenth of the table: the worst case for a
 * shape that reads every label row matching any pair. Variants, on the same connection pool:
 *
 *   unfiltered   the first page (limit 100) with no label filter: the baseline of the run
 *   store n      the list query as the store builds it (buildListQuery), n = 1, 8, 64 filters:
 *                the grouped subquery; from MANY_PAIRS pairs on, containment through the GIN
 *                index of labels (PostgreSQL) or a count per candidate (SQLite)
 *   joins n      the shape before: one inner join on sandbox_label per pair (SQLite refuses 64)
 *
 * Runs are interleaved and rotated so drift in the machine's load hits all variants alike. Every
 * variant's ids are checked against the store's before timing. Exits 1 if the store's median
 * with 64 filters is over TARGET_RATIO times the unfiltered median on either backend.
 * Env: BENCH_ROWS, BENCH_SAMPLES (default 40 per variant), BENCH_BACKENDS (`postgres`,`sqlite`),
 * BENCH_TIMEOUT_SECONDS (default 900).
 */
import 'reflect-metadata';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@app/config';
import {
  MemoryKeyValueStore,
  SandboxEntity,
  SandboxLabelEntity,
  SandboxMetaStore,
  buildDataSourceOptions,
  initializeDataSource,
} from '@app/meta-store';
import type { ListSandboxesQuery } from '@app/meta-store';
import { DataSource, EntityManager, SelectQueryBuilder } from 'typeorm';
import { buildListQuery } from '../libs/meta-store/src/store/sandbox-list-query';
import {
  makeSandboxInfo,
  makeSandboxSpec,
  testKeyring,
} from '../libs/meta-store/src/testing/sandbox-fixtures';
import { createScratchDatabase } from '../test/support/database';
import { settleBounded } from '../libs/sandbox/src/bounded';
import { Cleanups, Deadline, runBenchmark } from './support/run';
import { RESULTS_DIR, Stats, fmtMs, fmtRatio, log, ratio, statsOf } from './support/stats';

const ROWS = positiveInt('BENCH_ROWS', 10_000);
const SAMPLES = positiveInt('BENCH_SAMPLES', 40);
const WARMUP = 3;
const LIMIT = 100;
const LABELS_PER_SANDBOX = 64;
const FILTER_COUNTS = [1, 8, 64] as const;
/** The 64-filter list may cost at most this many unfiltered first pages. */
const TARGET_RATIO = 10;
/** The other benchmarks' names (embedded, postgres+redis) work too; no cache is involved here. */
const BACKEND_ALIASES: Record<string, string> = {
  embedded: 'sqlite',
  'postgres+redis': 'postgres',
};
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'postgres,sqlite')
  .split(',')
  .map((b) => BACKEND_ALIASES[b.trim()] ?? b.trim());

type Backend = 'postgres' | 'sqlite';

interface Variant {
  name: string;
  run: () => Promise<string[]>;
}

interface VariantResult {
  stats: Stats | null;
  ratioToUnfiltered: number | null;
  error: string | null;
  matched: number | null;
}

runBenchmark('label-filters', 900, async (cleanups, deadline) => {
  const results: Record<string, Record<string, VariantResult>> = {};
  let pass = true;
  for (const backend of BACKENDS) {
    if (backend !== 'postgres' && backend !== 'sqlite') {
      throw new Error(`BENCH_BACKENDS: unknown backend ${backend}`);
    }
    const dataSource = await open(backend, cleanups);
    const measured = await measure(backend, dataSource, deadline);
    results[backend] = measured;
    const target = measured['store 64'];
    const ok = target.ratioToUnfiltered !== null && target.ratioToUnfiltered <= TARGET_RATIO;
    pass &&= ok;
    printTable(backend, measured);
    console.log(
      `${backend}: store 64 / unfiltered = ${fmtRatio(target.ratioToUnfiltered)} vs target <= ${TARGET_RATIO}x -> ${ok ? 'OK' : 'MISSED'}\n`,
    );
    await cleanups.runAll();
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, 'label-filters.json');
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        benchmark: 'label-filters',
        at: new Date().toISOString(),
        rows: ROWS,
        labelsPerSandbox: LABELS_PER_SANDBOX,
        limit: LIMIT,
        samples: SAMPLES,
        targetRatio: TARGET_RATIO,
        results,
        pass,
      },
      null,
      2,
    )}\n`,
  );
  log(`wrote ${file}`);
  return pass ? 0 : 1;
});

async function open(backend: Backend, cleanups: Cleanups): Promise<DataSource> {
  let env: Record<string, string>;
  if (backend === 'postgres') {
    const database = await createScratchDatabase('bench');
    cleanups.add('drop scratch database', database.drop);
    env = { DATABASE_URL: database.url };
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'sandboxd-bench-'));
    cleanups.add('remove SQLite folder', () =>
      Promise.resolve(rmSync(dir, { recursive: true, force: true })),
    );
    env = { SQLITE_PATH: join(dir, 'sandboxd.sqlite') };
  }
  const dataSource = await initializeDataSource(
    buildDataSourceOptions(loadConfig(env).store, testKeyring()),
  );
  cleanups.add('close data source', () => dataSource.destroy());
  return dataSource;
}

async function measure(
  backend: Backend,
  dataSource: DataSource,
  deadline: Deadline,
): Promise<Record<string, VariantResult>> {
  await seed(backend, dataSource, deadline);
  const manager = dataSource.manager;
  const idsOf = async (qb: SelectQueryBuilder<SandboxEntity>): Promise<string[]> =>
    (await qb.getMany()).map((row) => row.id);

  const variants: Variant[] = [
    { name: 'unfiltered', run: () => idsOf(buildListQuery(manager, { limit: LIMIT })) },
  ];
  for (const n of FILTER_COUNTS) {
    const query: ListSandboxesQuery = { labels: filters(n), limit: LIMIT };
    variants.push({ name: `store ${n}`, run: () => idsOf(buildListQuery(manager, query)) });
    variants.push({ name: `joins ${n}`, run: () => idsOf(buildJoinListQuery(manager, query)) });
  }

  // Correctness first: every shape answers the same page; one that fails is reported, not timed.
  const errors = new Map<string, string>();
  const matched = new Map<string, number>();
  for (const n of FILTER_COUNTS) {
    const expected = await variants.find((v) => v.name === `store ${n}`)!.run();
    if (expected.length !== LIMIT + 1) {
      throw new Error(`store ${n}: expected a full page (+1), got ${expected.length} rows`);
    }
    matched.set(`store ${n}`, expected.length);
    try {
      const joins = await variants.find((v) => v.name === `joins ${n}`)!.run();
      if (joins.join() !== expected.join()) throw new Error('answers another page than the store');
      matched.set(`joins ${n}`, joins.length);
    } catch (error) {
      errors.set(`joins ${n}`, error instanceof Error ? error.message : String(error));
      log(`${backend} joins ${n}: ${errors.get(`joins ${n}`)}`);
    }
  }
  const timed = variants.filter((v) => !errors.has(v.name));

  log(`${backend}: warm-up, ${WARMUP} runs each`);
  for (let i = 0; i < WARMUP; i += 1) for (const v of timed) await v.run();
  log(`${backend}: measuring, ${SAMPLES} interleaved runs each`);
  const times = new Map(timed.map((v) => [v.name, [] as number[]]));
  for (let i = 0; i < SAMPLES; i += 1) {
    deadline.check(`${backend} sample ${i}`);
    for (let j = 0; j < timed.length; j += 1) {
      const v = timed[(i + j) % timed.length];
      const started = process.hrtime.bigint();
      await v.run();
      times.get(v.name)?.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  }
  const baseline = statsOf(times.get('unfiltered') ?? []);
  return Object.fromEntries(
    variants.map((v): [string, VariantResult] => {
      const samples = times.get(v.name);
      const stats = samples ? statsOf(samples) : null;
      return [
        v.name,
        {
          stats,
          ratioToUnfiltered: stats ? ratio(stats.medianMs, baseline.medianMs) : null,
          error: errors.get(v.name) ?? null,
          matched: matched.get(v.name) ?? null,
        },
      ];
    }),
  );
}

/** The filter set of n pairs: the n-1 first common ones and the selective k63=g0. */
function filters(n: number): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (let j = 0; j < n - 1; j += 1) pairs[`k${j}`] = `v${j}`;
  pairs.k63 = 'g0';
  return pairs;
}

function labelsOf(i: number): Record<string, string> {
  const labels: Record<string, string> = {};
  for (let j = 0; j < LABELS_PER_SANDBOX - 1; j += 1) labels[`k${j}`] = `v${j}`;
  labels.k63 = `g${i % 10}`;
  return labels;
}

/** ROWS sandboxes through the store itself (rows, label rows, cache), ids in creation order. */
async function seed(backend: Backend, dataSource: DataSource, deadline: Deadline): Promise<void> {
  const store = new SandboxMetaStore(dataSource, new MemoryKeyValueStore(), testKeyring());
  const started = Date.now();
  const indexes = [...Array(ROWS).keys()];
  // SQLite has one connection: concurrency would only queue.
  const concurrency = backend === 'postgres' ? 8 : 1;
  const settled = await settleBounded(indexes, concurrency, async (i) => {
    if (i % 1000 === 0) deadline.check(`seeding row ${i}`);
    const id = `sbx${String(i).padStart(7, '0')}`;
    const labels = labelsOf(i);
    const state = i % 4 === 0 ? 'stopped' : 'running';
    await store.insert({
      info: makeSandboxInfo({ id, labels, state, operation: null }),
      spec: makeSandboxSpec({ labels }),
      machineSnapshot: null,
      machineVersion: '1',
    });
  });
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed && failed.status === 'rejected') throw failed.reason;
  await dataSource.query(backend === 'postgres' ? 'VACUUM ANALYZE' : 'ANALYZE');
  log(
    `${backend}: seeded ${ROWS} sandboxes x ${LABELS_PER_SANDBOX} labels in ${Date.now() - started} ms`,
  );
}

/** The list query's label filter as it was before: one inner join per pair. */
function buildJoinListQuery(
  manager: EntityManager,
  query: ListSandboxesQuery,
): SelectQueryBuilder<SandboxEntity> {
  const qb = manager.createQueryBuilder(SandboxEntity, 's');
  Object.entries(query.labels ?? {}).forEach(([key, value], index) => {
    const alias = `l${index}`;
    qb.innerJoin(
      SandboxLabelEntity,
      alias,
      `${alias}.sandboxId = s.id AND ${alias}.key = :${alias}k AND ${alias}.value = :${alias}v`,
      { [`${alias}k`]: key, [`${alias}v`]: value },
    );
  });
  qb.andWhere('s.state <> :deleted', { deleted: 'deleted' });
  return qb.orderBy('s.id', 'ASC').limit(query.limit + 1);
}

function printTable(backend: string, results: Record<string, VariantResult>): void {
  console.log(
    `\n${backend}: ${ROWS} sandboxes x ${LABELS_PER_SANDBOX} labels, first page of ${LIMIT}`,
  );
  console.log('variant       median ms   p95 ms   vs unfiltered');
  for (const [name, r] of Object.entries(results)) {
    const cells = r.stats
      ? `${fmtMs(r.stats.medianMs, 2).padStart(9)}  ${fmtMs(r.stats.p95Ms, 2).padStart(8)}   ${fmtRatio(r.ratioToUnfiltered)}`
      : `  failed: ${r.error}`;
    console.log(`${name.padEnd(12)} ${cells}`);
  }
}

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}
