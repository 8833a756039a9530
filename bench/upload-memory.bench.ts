/**
 * How much memory do large concurrent uploads cost the service, chunked vs Content-Length?
 *
 *   npx ts-node -r tsconfig-paths/register bench/upload-memory.bench.ts
 *
 * Needs a build (npm run build). Each run starts dist/apps/sandbox-api/main.js in a fresh process
 * (embedded backend, scheduler off), creates one sandbox and then sends BENCH_UPLOADS (10) uploads
 * of BENCH_UPLOAD_MB (95) MB each at once into it, PUT /v1/sandboxes/:id/files, framed as
 *
 *   length   Content-Length: the baseline, streamed straight into the engine
 *   chunked  Transfer-Encoding: chunked (no length known up front)
 *
 * and records the server's peak RSS (VmHWM from /proc/<pid>/status: a fresh process per run, so
 * the peak is that run's), its RSS before the uploads and the wall time. Runs are interleaved
 * (length, chunked, chunked, length, …), BENCH_ROUNDS (1) of each; every upload is checked for
 * status 200 and its size. Writes bench/results/upload-memory.json. Before chunked uploads were
 * spooled to disk, ten 95 MB chunked uploads left the process at 2.8 GB.
 * Env: BENCH_UPLOADS (10), BENCH_UPLOAD_MB (95), BENCH_ROUNDS (1).
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { benchEnv } from './support/app';
import { SandboxAnswer, callApi, expectStatus } from './support/http';
import { Cleanups, runBenchmark } from './support/run';
import { BenchServer, staleBuild } from './support/server';
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
import { DEMO_IMAGE } from '../test/support/docker';

const UPLOADS = Math.min(50, positiveInt('BENCH_UPLOADS', 10));
const UPLOAD_MB = Math.min(99, positiveInt('BENCH_UPLOAD_MB', 95));
const ROUNDS = Math.min(10, positiveInt('BENCH_ROUNDS', 1));
const MB = 1024 * 1024;
const PIECE = 64 * 1024;
type Framing = 'length' | 'chunked';

interface Run {
  framing: Framing;
  round: number;
  rssBeforeMb: number;
  peakRssMb: number;
  wallMs: number;
  statuses: number[];
}

/** VmHWM (peak resident set) of a process, in bytes. */
function peakRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
  if (match === null) throw new Error(`no VmHWM for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** One upload of `bytes` (a repeated random piece), framed as asked; resolves with the status. */
function upload(url: string, framing: Framing, piece: Buffer, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> =
      framing === 'length'
        ? { 'content-length': String(bytes) }
        : { 'transfer-encoding': 'chunked' };
    const req = request(url, { method: 'PUT', headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    let sent = 0;
    const pump = (): void => {
      while (sent < bytes) {
        const n = Math.min(piece.length, bytes - sent);
        sent += n;
        if (!req.write(n === piece.length ? piece : piece.subarray(0, n))) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

runBenchmark('upload-memory', 900, async (cleanups, deadline) => {
  const stale = staleBuild();
  if (stale !== null) log(`WARNING: ${stale} is newer than the build; run "npm run build" first`);
  const piece = randomBytes(PIECE);
  const bytes = UPLOAD_MB * MB;
  const runs: Run[] = [];

  for (let r = 0; r < ROUNDS; r += 1) {
    for (const framing of interleaved<Framing>(r, 'length', 'chunked')) {
      deadline.check(`${framing} round ${r + 1}`);
      const scoped = new Cleanups();
      cleanups.add(`${framing} run`, () => scoped.runAll());
      const environment = await benchEnv('embedded', { SCHEDULER_ENABLED: 'false' }, scoped);
      const server = await BenchServer.start(environment.env, scoped);
      const created = expectStatus(
        await callApi<SandboxAnswer>(server.url, 'POST', '/v1/sandboxes?wait=true', {
          image: DEMO_IMAGE,
        }),
        200,
        'create',
      );
      const rssBefore = (await server.memory()).rss;
      const started = Date.now();
      const statuses = await Promise.all(
        Array.from({ length: UPLOADS }, (_, i) =>
          upload(
            `${server.url}/v1/sandboxes/${created.id}/files?path=/tmp/upload-${i}.bin`,
            framing,
            piece,
            bytes,
          ),
        ),
      );
      const wallMs = Date.now() - started;
      const peak = peakRss(server.pid);
      for (let i = 0; i < UPLOADS; i += 1) {
        const stat = await callApi<unknown>(
          server.url,
          'POST',
          `/v1/sandboxes/${created.id}/exec`,
          { command: `wc -c < /tmp/upload-${i}.bin` },
        );
        const stdout = (stat.body as { stdout?: string } | null)?.stdout?.trim();
        if (stdout !== String(bytes))
          throw new Error(`upload ${i}: ${stdout} bytes in the sandbox`);
      }
      const run: Run = {
        framing,
        round: r + 1,
        rssBeforeMb: round(rssBefore / MB, 1),
        peakRssMb: round(peak / MB, 1),
        wallMs,
        statuses,
      };
      runs.push(run);
      log(
        `${framing} round ${r + 1}: peak RSS ${run.peakRssMb} MB (before ${run.rssBeforeMb} MB), ` +
          `${wallMs} ms, statuses ${[...new Set(statuses)].join(',')}`,
      );
      if (statuses.some((s) => s !== 200)) throw new Error(`uploads failed: ${statuses.join(',')}`);
      await scoped.runAll();
    }
  }

  const of = (framing: Framing) => runs.filter((x) => x.framing === framing);
  const peak = (framing: Framing) => statsOf(of(framing).map((x) => x.peakRssMb));
  const wall = (framing: Framing) => statsOf(of(framing).map((x) => x.wallMs));
  const rows = (['length', 'chunked'] as const).map((framing) => [
    framing,
    String(of(framing).length),
    peak(framing).medianMs.toFixed(1),
    peak(framing).maxMs.toFixed(1),
    wall(framing).medianMs.toFixed(0),
  ]);
  printTable(
    `${UPLOADS} concurrent uploads of ${UPLOAD_MB} MB each into one sandbox, fresh server per run (median over ${ROUNDS} runs)`,
    ['framing', 'runs', 'peak RSS MB median', 'peak RSS MB max', 'wall ms median'],
    rows,
  );
  const peakRatio = ratio(peak('chunked').medianMs, peak('length').medianMs);
  console.log(`  peak RSS chunked/length: ${fmtRatio(peakRatio)}`);
  const file = writeResults('upload-memory', {
    server: 'node dist/apps/sandbox-api/main.js (own process, embedded, SCHEDULER_ENABLED=false)',
    buildOlderThan: stale,
    uploads: UPLOADS,
    uploadMb: UPLOAD_MB,
    rounds: ROUNDS,
    summary: {
      peakRssMb: { length: peak('length'), chunked: peak('chunked') },
      wallMs: { length: wall('length'), chunked: wall('chunked') },
      ratio: { peakRssChunkedOverLength: peakRatio },
    },
    runs,
  });
  log(`wrote ${file}`);
  return 0;
});
