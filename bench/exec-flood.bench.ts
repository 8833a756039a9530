/**
 * How much memory does an exec output flood cost the service?
 *
 *   npx ts-node -r tsconfig-paths/register bench/exec-flood.bench.ts
 *
 * The abuse of issue 10: BENCH_CONCURRENCY (30) execs at once of `head -c 20000000 /dev/zero` in
 * one sandbox, each answered in full (EXEC_OUTPUT_LIMIT keeps 10 MiB of it). Needs the Docker
 * engine, a build (npm run build: the server is dist/apps/sandbox-api/main.js in its own process,
 * scheduler off) and, for postgres+redis, the stores of the integration tests.
 *
 * Each variant runs on a fresh server with one sandbox (RSS does not shrink at once, so a shared
 * server would carry one variant's peak into the next); its RSS is sampled from /proc every 20 ms.
 * The baseline is that same server idle (after one small exec and a full GC), in the same run:
 *
 *   buffered utf8    POST /exec, one JSON answer (every NUL is `\u0000`: 6 bytes each)
 *   buffered base64  the same with outputEncoding: base64 (4 bytes per 3)
 *   stream ndjson    Accept: application/x-ndjson (the output is not held, so not budgeted)
 *
 * The client reads every answer to its end, counting its bytes without keeping them. Prints per
 * variant: answers 200 / 503 (EXEC_OUTPUT_BUDGET_EXHAUSTED, with Retry-After) / other, answer
 * size, wall time, peak RSS while flooding, peak − idle and peak / idle. Writes
 * bench/results/exec-flood.json. Env: BENCH_CONCURRENCY (30), BENCH_FLOOD_BYTES (20000000),
 * BENCH_BACKENDS (default "embedded"), BENCH_TIMEOUT_SECONDS (900); the server gets
 * EXEC_OUTPUT_BUDGET and EXEC_OUTPUT_LIMIT from the environment when set (else the defaults).
 */
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { DEMO_IMAGE, ensureDemoImage } from '../test/support/docker';
import { Backend, benchEnv } from './support/app';
import { SandboxAnswer, callApi, expectStatus } from './support/http';
import { Cleanups, runBenchmark } from './support/run';
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

const CONCURRENCY = positiveInt('BENCH_CONCURRENCY', 30);
const FLOOD_BYTES = positiveInt('BENCH_FLOOD_BYTES', 20_000_000);
const BACKENDS: Backend[] = (process.env.BENCH_BACKENDS ?? 'embedded')
  .split(',')
  .map((b) => b.trim() as Backend);
const SAMPLE_MS = 20;
const MB = 1024 * 1024;

const VARIANTS = {
  'buffered utf8': { body: {}, accept: 'application/json' },
  'buffered base64': { body: { outputEncoding: 'base64' }, accept: 'application/json' },
  'stream ndjson': { body: {}, accept: 'application/x-ndjson' },
} as const;
type Variant = keyof typeof VARIANTS;

interface Answer {
  status: number;
  code: string | null;
  retryAfter: string | null;
  bytes: number;
}

interface FloodResult {
  /** The same server before the flood, after one small exec and a full GC. */
  idleRssMb: number;
  answers: { ok: number; budgetExhausted: number; other: number; otherStatuses: number[] };
  retryAfterSeen: string[];
  answerBytes: { max: number; total: number };
  wallMs: number;
  peakRssMb: number;
  peakMinusIdleMb: number;
  peakOverIdle: number | null;
}

runBenchmark('exec-flood', 900, async (cleanups, deadline) => {
  const stale = staleBuild();
  if (stale !== null) log(`WARNING: ${stale} is newer than the build; run "npm run build" first`);
  await ensureDemoImage();
  const results: Record<string, { variants: Record<string, FloodResult> }> = {};
  const passthrough = Object.fromEntries(
    ['EXEC_OUTPUT_BUDGET', 'EXEC_OUTPUT_LIMIT']
      .filter((name) => process.env[name] !== undefined)
      .map((name) => [name, process.env[name] as string]),
  );

  for (const backend of BACKENDS) {
    const variants: Record<string, FloodResult> = {};
    for (const variant of Object.keys(VARIANTS) as Variant[]) {
      deadline.check(`${backend} ${variant}`);
      // A fresh server per variant: RSS does not shrink at once, so one variant's peak would
      // carry into the next one's.
      const scoped = new Cleanups();
      cleanups.add(`${backend} ${variant} run`, () => scoped.runAll());
      const { server, path } = await serverWithSandbox(backend, passthrough, scoped);
      const idle = (await server.memory()).rss;
      log(`${backend} ${variant}: server pid ${server.pid}, idle RSS ${(idle / MB).toFixed(1)} MB`);
      const sampler = new RssSampler(server.pid);
      const started = performance.now();
      const answers = await Promise.all(
        Array.from({ length: CONCURRENCY }, () => flood(server.url, path, variant)),
      );
      const wallMs = performance.now() - started;
      const peak = sampler.stop();
      const ok = answers.filter((a) => a.status === 200).length;
      const exhausted = answers.filter((a) => a.code === 'EXEC_OUTPUT_BUDGET_EXHAUSTED').length;
      const others = answers.filter(
        (a) => a.status !== 200 && a.code !== 'EXEC_OUTPUT_BUDGET_EXHAUSTED',
      );
      variants[variant] = {
        idleRssMb: round(idle / MB, 1),
        answers: {
          ok,
          budgetExhausted: exhausted,
          other: others.length,
          otherStatuses: others.map((a) => a.status),
        },
        retryAfterSeen: [...new Set(answers.map((a) => a.retryAfter).filter((r) => r !== null))],
        answerBytes: {
          max: Math.max(...answers.map((a) => a.bytes)),
          total: answers.reduce((sum, a) => sum + a.bytes, 0),
        },
        wallMs: round(wallMs, 1),
        peakRssMb: round(peak / MB, 1),
        peakMinusIdleMb: round((peak - idle) / MB, 1),
        peakOverIdle: ratio(peak, idle),
      };
      log(
        `${backend} ${variant}: ${ok} ok, ${exhausted} refused (503), ${others.length} other; ` +
          `peak RSS ${(peak / MB).toFixed(1)} MB`,
      );
      await scoped.runAll();
    }
    results[backend] = { variants };
  }

  for (const backend of Object.keys(results)) {
    const { variants } = results[backend];
    printTable(
      `${backend}: ${CONCURRENCY} concurrent execs of head -c ${FLOOD_BYTES} /dev/zero, each variant on a fresh server vs that server idle`,
      [
        'variant',
        'idle RSS MB',
        '200',
        '503 budget',
        'other',
        'largest answer MB',
        'wall s',
        'peak RSS MB',
        'peak - idle MB',
        'peak / idle',
      ],
      Object.entries(variants).map(([name, r]) => [
        name,
        r.idleRssMb.toFixed(1),
        String(r.answers.ok),
        String(r.answers.budgetExhausted),
        String(r.answers.other),
        (r.answerBytes.max / MB).toFixed(1),
        (r.wallMs / 1000).toFixed(1),
        r.peakRssMb.toFixed(1),
        r.peakMinusIdleMb.toFixed(1),
        fmtRatio(r.peakOverIdle),
      ]),
    );
  }

  const file = writeResults('exec-flood', {
    server: 'node --expose-gc dist/apps/sandbox-api/main.js (own process, SCHEDULER_ENABLED=false)',
    buildOlderThan: stale,
    concurrency: CONCURRENCY,
    floodBytes: FLOOD_BYTES,
    serverEnv: passthrough,
    rssSampleMs: SAMPLE_MS,
    results,
  });
  log(`wrote ${file}`);
  return 0;
});

/** A fresh server with one running sandbox, one small exec done, after a full GC and a pause. */
async function serverWithSandbox(
  backend: Backend,
  passthrough: Record<string, string>,
  scoped: Cleanups,
): Promise<{ server: BenchServer; path: string }> {
  const environment = await benchEnv(
    backend,
    { SCHEDULER_ENABLED: 'false', ...passthrough },
    scoped,
  );
  const server = await BenchServer.start(environment.env, scoped);
  const sandbox = expectStatus(
    await callApi<SandboxAnswer>(server.url, 'POST', '/v1/sandboxes?wait=true', {
      image: DEMO_IMAGE,
      memory: '256m',
    }),
    200,
    'create',
  );
  const path = `/v1/sandboxes/${sandbox.id}/exec`;
  expectStatus(await callApi(server.url, 'POST', path, { command: ['true'] }), 200, 'exec true');
  await settle(server);
  return { server, path };
}

/** One exec of the flood, its answer read to the end and counted, not kept. */
async function flood(url: string, path: string, variant: Variant): Promise<Answer> {
  const { body, accept } = VARIANTS[variant];
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept },
    body: JSON.stringify({ command: ['head', '-c', String(FLOOD_BYTES), '/dev/zero'], ...body }),
    signal: AbortSignal.timeout(600_000),
  });
  let bytes = 0;
  let head = '';
  const reader = response.body?.getReader();
  for (;;) {
    const next = await reader?.read();
    if (!next || next.done) break;
    bytes += next.value.length;
    if (head.length < 2000) head += Buffer.from(next.value.subarray(0, 2000)).toString('utf8');
  }
  let code: string | null = null;
  if (response.status !== 200) {
    try {
      code = (JSON.parse(head) as { code?: string }).code ?? null;
    } catch {
      code = null;
    }
  }
  return { status: response.status, code, retryAfter: response.headers.get('retry-after'), bytes };
}

/** The highest VmRSS of a process, read from /proc every SAMPLE_MS until stopped. */
class RssSampler {
  private peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }

  private sample(): void {
    try {
      const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      if (match) this.peak = Math.max(this.peak, Number(match[1]) * 1024);
    } catch {
      // the process is gone; the run fails on its next request
    }
  }
}

/** A full GC in the server and a second of quiet, so one variant's garbage is not the next's. */
async function settle(server: BenchServer): Promise<void> {
  await server.memory();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await server.memory();
}
