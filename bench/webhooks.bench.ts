/**
 * Does delivering webhooks slow the lifecycle down? create→running with three webhook receivers
 * configured against none.
 *
 *   npx ts-node -r tsconfig-paths/register bench/webhooks.bench.ts
 *
 * Needs the Docker engine, the PostgreSQL and Redis of the integration tests and a build (npm run
 * build). Per backend, two servers (dist/apps/sandbox-api/main.js, own processes, scheduler off):
 * one with three webhooks registered, each a receiver on 127.0.0.1 (in a process of their own) that
 * verifies every delivery with the `standardwebhooks` library and answers 200, and one with none. It times, in pairs
 * interleaved:
 *
 *   webhooks  POST /v1/sandboxes?wait=true {"image": demo} on the server with the receivers
 *   none      the same on the server without
 *
 * Each sandbox's created and running events reach all three receivers while the container starts,
 * which is the point: delivery runs beside the command, never in it. After each sample (not timed)
 * the sandbox is deleted and its deliveries waited for, so none spills into the next sample.
 * Prints n, medians and p95s and their ratios. Target: webhooks / none ≤ 1.02 at the median; exits
 * 1 when missed. Writes bench/results/webhooks.json. Env: BENCH_SAMPLES (pairs, default 20),
 * BENCH_WARMUP (default 2), BENCH_BACKENDS.
 */
import 'reflect-metadata';
import { DEMO_IMAGE, ensureDemoImage } from '../test/support/docker';
import { Backend, backendsFromEnv, benchEnv } from './support/app';
import { SandboxAnswer, callApi, expectStatus } from './support/http';
import { ReceiverProcess } from './support/receivers';
import { Cleanups, runBenchmark } from './support/run';
import { VsNative, reportVsNative, timePairs } from './support/vs-native';
import { BenchServer, staleBuild } from './support/server';
import { log, positiveInt } from './support/stats';

const SAMPLES = positiveInt('BENCH_SAMPLES', 20);
const WARMUP = positiveInt('BENCH_WARMUP', 2);
const BACKENDS = backendsFromEnv();
const RECEIVERS = 3;
const TARGET_RATIO = 1.02;

runBenchmark('webhooks', 900, async (cleanups, deadline) => {
  const stale = staleBuild();
  if (stale !== null) log(`WARNING: ${stale} is newer than the build; run "npm run build" first`);
  await ensureDemoImage();
  const results: Partial<Record<Backend, VsNative>> = {};

  for (const backend of BACKENDS) {
    deadline.check(backend);
    const scoped = new Cleanups();
    cleanups.add(`${backend} backend`, () => scoped.runAll());
    const settings = { SCHEDULER_ENABLED: 'false' };
    const hooked = await BenchServer.start((await benchEnv(backend, settings, scoped)).env, scoped);
    const bare = await BenchServer.start((await benchEnv(backend, settings, scoped)).env, scoped);
    const receivers = await ReceiverProcess.start(RECEIVERS, scoped);
    for (const [i, url] of receivers.urls.entries()) {
      const hook = await callApi<{ secret: string }>(hooked.url, 'POST', '/v1/webhooks', { url });
      receivers.setSecret(i, expectStatus(hook, 201, 'webhook').secret);
    }
    log(`${backend}: servers ${hooked.pid} (${RECEIVERS} webhooks) and ${bare.pid} (none)`);

    results[backend] = await timePairs({
      backend,
      label: 'webhooks',
      samples: SAMPLES,
      warmup: WARMUP,
      deadline,
      time: async (variant) => {
        const server = variant === 'subject' ? hooked : bare;
        const started = performance.now();
        const created = await callApi<SandboxAnswer>(
          server.url,
          'POST',
          '/v1/sandboxes?wait=true',
          {
            image: DEMO_IMAGE,
          },
        );
        const ms = performance.now() - started;
        const { id } = expectStatus(created, 200, `${variant} create`);
        await callApi(server.url, 'DELETE', `/v1/sandboxes/${id}?force=true`);
        // created, running, stopped, deleted: all delivered before the next sample starts.
        if (variant === 'subject') await receivers.waitFor(id, 4);
        return ms;
      },
    });
    await scoped.runAll();
  }

  return reportVsNative({
    name: 'webhooks',
    title: `create→running with ${RECEIVERS} webhook receivers vs none, ${SAMPLES} interleaved pairs`,
    label: 'webhooks',
    results,
    targetRatio: TARGET_RATIO,
    samples: SAMPLES,
    warmup: WARMUP,
    stale,
  });
});
