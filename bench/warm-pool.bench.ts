/**
 * How fast is a sandbox ready: create→running through the API from the warm pool, through the API
 * cold, and with plain dockerode?
 *
 *   npx ts-node -r tsconfig-paths/register bench/warm-pool.bench.ts
 *
 * Needs the Docker engine, PostgreSQL and Redis of the integration tests. Builds two AppModules in
 * this process on scratch databases (scheduler off), one with WARM_POOL=<demo image>:<size> and one
 * without, and per sample times, in rotating order:
 *
 *   pooled  POST /v1/sandboxes?wait=true {image} on the pooled app (takes a ready member)
 *   cold    the same request on the app without a pool (docker create + start)
 *   direct  the same container (buildContainerConfig, default limits, no ports) with plain
 *           dockerode create+start: the engine's floor for a cold sandbox
 *
 * Before each measurement the pool is full again (so each pooled create is a hit, as in a service
 * whose pool keeps up, and no refill overlaps a measurement); the sandboxes and the direct container are removed after it, untimed. Prints
 * medians, p95s and ratios, and writes bench/results/warm-pool.json. Everything labelled with the
 * runs' instance ids is removed at the end.
 * Env: BENCH_SAMPLES (default 30), BENCH_WARMUP (default 2), BENCH_POOL_SIZE (default 2),
 * BENCH_TIMEOUT_SECONDS.
 */
import 'reflect-metadata';
import { WarmPool } from '@app/sandbox';
import { DEMO_IMAGE, ensureDemoImage, testDocker } from '../test/support/docker';
import { startInProcessApp } from './support/app';
import { DirectSandboxes, SandboxRequest, labelledContainers } from './support/direct';
import { SandboxAnswer, callApi, expectStatus } from './support/http';
import { runBenchmark } from './support/run';
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

const SAMPLES = positiveInt('BENCH_SAMPLES', 30);
const WARMUP = positiveInt('BENCH_WARMUP', 2);
const POOL_SIZE = positiveInt('BENCH_POOL_SIZE', 2);
/** The service's default limits (DEFAULT_CPUS=1, DEFAULT_MEMORY=1g): what a pool member has. */
const REQUEST: SandboxRequest = { image: DEMO_IMAGE, cpus: 1, memory: '1g', ports: [] };
const VARIANTS = ['pooled', 'cold', 'direct'] as const;
type Variant = (typeof VARIANTS)[number];
const TARGET_MEDIAN_MS = 50;
const TARGET_P95_MS = 100;

runBenchmark('warm-pool', 900, async (cleanups, deadline) => {
  await ensureDemoImage();
  const settings = { SCHEDULER_ENABLED: 'false' };
  const pooledApp = await startInProcessApp(
    'postgres+redis',
    { ...settings, WARM_POOL: `${DEMO_IMAGE}:${POOL_SIZE}` },
    cleanups,
  );
  const coldApp = await startInProcessApp('postgres+redis', settings, cleanups);
  log(`pooled API on ${pooledApp.url}, cold API on ${coldApp.url}`);
  const pool = pooledApp.app.get(WarmPool);
  const docker = testDocker();
  const direct = new DirectSandboxes(docker, coldApp.config, { from: 46000, to: 46999 });

  const times: Record<Variant, number[]> = { pooled: [], cold: [], direct: [] };
  let pooledHits = 0;
  const body = { image: REQUEST.image };

  for (let i = 0; i < WARMUP + SAMPLES; i += 1) {
    deadline.check(`sample ${i + 1}`);
    const measured = i >= WARMUP;
    const order = VARIANTS.map((_, k) => VARIANTS[(i + k) % VARIANTS.length]);
    const made: { url: string; id: string }[] = [];
    let directMade: { containerId: string; sandboxId: string } | null = null;
    for (const variant of order) {
      // A refill after the pooled create must not overlap the next variant's measurement.
      await poolFull(pool);
      if (variant === 'direct') {
        const sandboxId = direct.newId();
        const started = performance.now();
        const containerId = await direct.createAndStart(sandboxId, REQUEST, []);
        if (measured) times.direct.push(performance.now() - started);
        directMade = { containerId, sandboxId };
        continue;
      }
      const url = variant === 'pooled' ? pooledApp.url : coldApp.url;
      const answer = await callApi<SandboxAnswer & { fromPool: boolean }>(
        url,
        'POST',
        '/v1/sandboxes?wait=true',
        body,
      );
      const sandbox = expectStatus(answer, 200, `${variant} create`);
      if (sandbox.state !== 'running') {
        throw new Error(`${variant} create ended ${sandbox.state}: ${sandbox.failureReason}`);
      }
      if (variant === 'pooled' && measured && sandbox.fromPool) pooledHits += 1;
      if (variant === 'cold' && sandbox.fromPool) throw new Error('cold app answered fromPool');
      if (measured) times[variant].push(answer.ms);
      made.push({ url, id: sandbox.id });
    }
    for (const { url, id } of made) {
      expectStatus(await callApi(url, 'DELETE', `/v1/sandboxes/${id}?force=true`), 204, 'delete');
    }
    if (directMade) await direct.remove(directMade.containerId, directMade.sandboxId);
    if (i === WARMUP - 1) log(`warm-up done (${WARMUP}); measuring ${SAMPLES} samples`);
    if (measured && (i - WARMUP + 1) % 10 === 0) log(`${i - WARMUP + 1}/${SAMPLES} samples`);
  }

  const stats = {
    pooled: statsOf(times.pooled),
    cold: statsOf(times.cold),
    direct: statsOf(times.direct),
  };
  const rows = VARIANTS.map((variant) => [
    variant,
    String(stats[variant].samples),
    fmtMs(stats[variant].medianMs),
    fmtMs(stats[variant].p95Ms),
    fmtRatio(ratio(stats[variant].medianMs, stats.direct.medianMs)),
    fmtRatio(ratio(stats[variant].p95Ms, stats.direct.p95Ms)),
  ]);
  printTable(
    `create→running, ${SAMPLES} samples in rotating order (pool of ${POOL_SIZE}, refilled between samples)`,
    ['variant', 'n', 'median ms', 'p95 ms', 'ratio median vs direct', 'ratio p95 vs direct'],
    rows,
  );
  const met =
    stats.pooled.medianMs < TARGET_MEDIAN_MS &&
    stats.pooled.p95Ms < TARGET_P95_MS &&
    pooledHits === SAMPLES;
  console.log(
    `\npooled creates that took a member: ${pooledHits}/${SAMPLES}; target median < ${TARGET_MEDIAN_MS} ms and p95 < ${TARGET_P95_MS} ms: ${met ? 'met' : 'MISSED'}`,
  );
  const cold = ratio(stats.cold.medianMs, stats.direct.medianMs);
  console.log(`cold API create vs direct at the median: ${fmtRatio(cold)} (target ≤ 1.10x)`);

  const left =
    (await labelledContainers(docker, pooledApp.instanceId)) +
    (await labelledContainers(docker, coldApp.instanceId));
  const file = writeResults('warm-pool', {
    backend: 'postgres+redis',
    samples: SAMPLES,
    warmup: WARMUP,
    poolSize: POOL_SIZE,
    request: REQUEST,
    stats,
    // Every timing in the order measured, to see where a tail comes from.
    samplesMs: Object.fromEntries(VARIANTS.map((v) => [v, times[v].map((ms) => round(ms))])),
    pooledHits,
    ratio: {
      pooledVsDirectMedian: ratio(stats.pooled.medianMs, stats.direct.medianMs),
      coldVsDirectMedian: cold,
      coldVsDirectP95: ratio(stats.cold.p95Ms, stats.direct.p95Ms),
      coldOverheadMs: round(stats.cold.medianMs - stats.direct.medianMs),
    },
    targetMet: met,
    // The pool's own idle members are still there until the app closes.
    containersLabelledBeforeSweep: left,
  });
  log(`wrote ${file}`);
  return met ? 0 : 1;
});

async function poolFull(pool: WarmPool): Promise<void> {
  for (let tries = 0; tries < 600; tries += 1) {
    await pool.settled();
    const [status] = pool.status();
    if (status.lastError) throw new Error(`warm pool refill failed: ${status.lastError}`);
    if (status.idle >= status.size) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('warm pool did not fill within 30 s');
}
