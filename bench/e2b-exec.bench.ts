/**
 * What does a command through the e2b SDK cost against a native exec?
 *
 *   npx ts-node -r tsconfig-paths/register bench/e2b-exec.bench.ts
 *
 * Needs the Docker engine, the PostgreSQL and Redis of the integration tests and a build (npm run
 * build): the server is dist/apps/sandbox-api/main.js in its own process on 127.0.0.1 (scheduler
 * off) with its E2B listener on. Per backend it creates one sandbox of the demo image through
 * the SDK (Sandbox.create, template base), then times, in pairs interleaved:
 *
 *   e2b     sbx.commands.run('true'): the SDK's Connect stream of process.Process/Start, which
 *           runs `/bin/bash -l -c true` (the SDK's fixed shell) under sandboxd's process wrapper
 *   native  POST /v1/sandboxes/:id/exec {"command": ["true"]} in the same sandbox
 *
 * Prints n, medians and p95s and their ratios. Target: e2b / native ≤ 1.3 at the median; exits 1
 * when missed. Writes bench/results/e2b-exec.json. Everything is removed at the end.
 * Env: BENCH_SAMPLES (pairs, default 100), BENCH_WARMUP (default 5), BENCH_BACKENDS.
 */
import 'reflect-metadata';
import { ensureDemoImage } from '../test/support/docker';
import { loadE2b, perE2bBackend } from './support/e2b';
import { apiExec } from './support/exec';
import { runBenchmark } from './support/run';
import { reportVsNative, timePairs } from './support/vs-native';
import { staleBuild } from './support/server';
import { log, positiveInt } from './support/stats';

const SAMPLES = positiveInt('BENCH_SAMPLES', 100);
const WARMUP = positiveInt('BENCH_WARMUP', 5);
const TARGET_RATIO = 1.3;

runBenchmark('e2b-exec', 600, async (cleanups, deadline) => {
  const stale = staleBuild();
  if (stale !== null) log(`WARNING: ${stale} is newer than the build; run "npm run build" first`);
  await ensureDemoImage();
  const { Sandbox } = await loadE2b();
  const results = await perE2bBackend(
    cleanups,
    deadline,
    async ({ backend, api, options, scoped }) => {
      const sbx = await Sandbox.create({ ...options, timeoutMs: 1_800_000 });
      scoped.add(`sandbox ${sbx.sandboxId}`, async () => void (await sbx.kill()));
      log(`${backend}: sandbox ${sbx.sandboxId}`);

      return timePairs({
        backend,
        label: 'e2b',
        samples: SAMPLES,
        warmup: WARMUP,
        deadline,
        time: async (variant) => {
          if (variant === 'subject') {
            const started = performance.now();
            const run = await sbx.commands.run('true');
            const ms = performance.now() - started;
            if (run.exitCode !== 0) throw new Error(`e2b exit code ${run.exitCode}`);
            return ms;
          }
          const run = await apiExec(api.url, sbx.sandboxId, ['true']);
          if (run.exitCode !== 0) throw new Error(`native exit code ${run.exitCode}`);
          return run.ms;
        },
      });
    },
  );

  return reportVsNative({
    name: 'e2b-exec',
    title: `commands.run('true') vs native exec of ["true"], ${SAMPLES} interleaved pairs`,
    label: 'e2b',
    results,
    targetRatio: TARGET_RATIO,
    samples: SAMPLES,
    warmup: WARMUP,
    stale,
  });
});
