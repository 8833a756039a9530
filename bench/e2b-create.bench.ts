/**
 * What does an E2B sandbox cost to get to its first command, against the native create?
 *
 *   npx ts-node -r tsconfig-paths/register bench/e2b-create.bench.ts
 *
 * Needs the Docker engine, the PostgreSQL and Redis of the integration tests and a build (npm run
 * build): the server is dist/apps/sandbox-api/main.js in its own process on 127.0.0.1 (scheduler
 * off) with its E2B listener on. Per backend it times, in pairs interleaved:
 *
 *   e2b     Sandbox.create() (template base = the demo image) then sbx.commands.run('true')
 *   native  POST /v1/sandboxes?wait=true {"image": demo} then POST /v1/sandboxes/:id/exec ["true"]
 *
 * and deletes each sandbox after its sample (not timed). Prints n, medians and p95s and their
 * ratios. Target: e2b / native ≤ 1.15 at the median; exits 1 when missed. Writes
 * bench/results/e2b-create.json. Env: BENCH_SAMPLES (pairs, default 20), BENCH_WARMUP (default 2),
 * BENCH_BACKENDS.
 */
import 'reflect-metadata';
import { DEMO_IMAGE, ensureDemoImage } from '../test/support/docker';
import { loadE2b, perE2bBackend } from './support/e2b';
import { apiExec } from './support/exec';
import { SandboxAnswer, callApi, expectStatus } from './support/http';
import { runBenchmark } from './support/run';
import { reportVsNative, timePairs } from './support/vs-native';
import { staleBuild } from './support/server';
import { log, positiveInt } from './support/stats';

const SAMPLES = positiveInt('BENCH_SAMPLES', 20);
const WARMUP = positiveInt('BENCH_WARMUP', 2);
const TARGET_RATIO = 1.15;

runBenchmark('e2b-create', 900, async (cleanups, deadline) => {
  const stale = staleBuild();
  if (stale !== null) log(`WARNING: ${stale} is newer than the build; run "npm run build" first`);
  await ensureDemoImage();
  const { Sandbox } = await loadE2b();
  const results = await perE2bBackend(cleanups, deadline, async ({ backend, api, options }) =>
    timePairs({
      backend,
      label: 'e2b',
      samples: SAMPLES,
      warmup: WARMUP,
      deadline,
      time: async (variant) => {
        const started = performance.now();
        let id: string;
        if (variant === 'subject') {
          const sbx = await Sandbox.create(options);
          const run = await sbx.commands.run('true');
          if (run.exitCode !== 0) throw new Error(`e2b exit code ${run.exitCode}`);
          id = sbx.sandboxId;
        } else {
          const created = await callApi<SandboxAnswer>(api.url, 'POST', '/v1/sandboxes?wait=true', {
            image: DEMO_IMAGE,
          });
          id = expectStatus(created, 200, 'native create').id;
          const run = await apiExec(api.url, id, ['true']);
          if (run.exitCode !== 0) throw new Error(`native exit code ${run.exitCode}`);
        }
        const ms = performance.now() - started;
        await callApi(api.url, 'DELETE', `/v1/sandboxes/${id}?force=true`);
        return ms;
      },
    }),
  );

  return reportVsNative({
    name: 'e2b-create',
    title: `create to a first command ('true'), e2b vs native, ${SAMPLES} interleaved pairs`,
    label: 'e2b',
    results,
    targetRatio: TARGET_RATIO,
    samples: SAMPLES,
    warmup: WARMUP,
    stale,
  });
});
