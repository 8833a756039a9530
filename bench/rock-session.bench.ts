/**
 * What does a ROCK bash session cost against a plain exec?
 *
 *   npx ts-node -r tsconfig-paths/register bench/rock-session.bench.ts
 *
 * Needs the Docker engine, the PostgreSQL and Redis of the integration tests and a build (npm run
 * build): the server is dist/apps/sandbox-api/main.js in its own process on 127.0.0.1 (scheduler
 * off). Per backend it creates one sandbox of the demo image through ROCK's start_async, opens one
 * session (create_session), then times, in pairs interleaved (ROCK then native, native then ROCK):
 *
 *   ROCK    POST /apis/envs/sandbox/v1/run_in_session {"command": "echo hello", check: "raise"},
 *           the body ROCK's SDK sends for arun(cmd, session=...): one command in the session's
 *           long-lived bash (its output "hello" checked)
 *   native  POST /v1/sandboxes/:id/exec {"command": ["echo", "hello"]} in the same sandbox
 *
 * Prints n, medians and p95s and their ratios. Target: ROCK / native ≤ 1.3 at the median; exits
 * 1 when missed. Writes bench/results/rock-session.json. Everything is removed at the end.
 * Env: BENCH_SAMPLES (pairs, default 100), BENCH_WARMUP (default 5), BENCH_BACKENDS,
 * BENCH_TIMEOUT_SECONDS (default 600).
 */
import 'reflect-metadata';
import { DEMO_IMAGE, ensureDemoImage } from '../test/support/docker';
import { Backend, backendsFromEnv, benchEnv } from './support/app';
import { apiExec } from './support/exec';
import { callApi } from './support/http';
import { Cleanups, runBenchmark } from './support/run';
import { VsNative, reportVsNative, timePairs } from './support/vs-native';
import { BenchServer, staleBuild } from './support/server';
import { log, positiveInt } from './support/stats';

const SAMPLES = positiveInt('BENCH_SAMPLES', 100);
const WARMUP = positiveInt('BENCH_WARMUP', 5);
const BACKENDS = backendsFromEnv();
const TARGET_RATIO = 1.3;
const ROCK = '/apis/envs/sandbox/v1';

interface Envelope {
  status: string;
  error: string | null;
  result: any;
}

async function rockCall(
  url: string,
  route: string,
  body: object,
): Promise<{ ms: number; answer: Envelope }> {
  const timed = await callApi<Envelope>(url, 'POST', `${ROCK}/${route}`, body);
  const answer = timed.body as Envelope;
  if (timed.status !== 200 || answer.status !== 'Success') {
    throw new Error(`${route}: HTTP ${timed.status} ${JSON.stringify(answer)}`);
  }
  return { ms: timed.ms, answer };
}

runBenchmark('rock-session', 600, async (cleanups, deadline) => {
  const stale = staleBuild();
  if (stale !== null) log(`WARNING: ${stale} is newer than the build; run "npm run build" first`);
  await ensureDemoImage();
  const results: Partial<Record<Backend, VsNative>> = {};

  for (const backend of BACKENDS) {
    deadline.check(backend);
    const scoped = new Cleanups();
    cleanups.add(`${backend} backend`, () => scoped.runAll());
    const environment = await benchEnv(backend, { SCHEDULER_ENABLED: 'false' }, scoped);
    const api = await BenchServer.start(environment.env, scoped);
    const started = await rockCall(api.url, 'start_async', {
      image: DEMO_IMAGE,
      memory: '256m',
      cpus: 0.5,
      auto_clear_time_minutes: 30,
      disk: null,
    });
    const id = started.answer.result.sandbox_id as string;
    for (;;) {
      deadline.check(`${backend} start`);
      const status = await callApi<Envelope>(
        api.url,
        'GET',
        `${ROCK}/get_status?sandbox_id=${id}&include_all_states=False`,
      );
      if ((status.body as Envelope).result?.is_alive === true) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await rockCall(api.url, 'create_session', {
      sandbox_id: id,
      session_type: 'bash',
      session: 'bench',
      startup_source: [],
      env_enable: false,
      env: null,
      remote_user: null,
    });
    log(`${backend}: server pid ${api.pid}, sandbox ${id}, session "bench"`);

    results[backend] = await timePairs({
      backend,
      label: 'ROCK',
      samples: SAMPLES,
      warmup: WARMUP,
      deadline,
      time: async (variant) => {
        if (variant === 'subject') {
          const run = await rockCall(api.url, 'run_in_session', {
            action_type: 'bash',
            session: 'bench',
            command: 'echo hello',
            sandbox_id: id,
            check: 'raise',
            timeout: null,
          });
          if (run.answer.result.output !== 'hello')
            throw new Error(`ROCK output ${JSON.stringify(run.answer.result)}`);
          return run.ms;
        }
        const run = await apiExec(api.url, id, ['echo', 'hello']);
        if (run.stdout !== 'hello\n')
          throw new Error(`native output ${JSON.stringify(run.stdout)}`);
        return run.ms;
      },
    });
    await scoped.runAll();
  }

  return reportVsNative({
    name: 'rock-session',
    title: `run_in_session "echo hello" vs native exec, ${SAMPLES} interleaved pairs`,
    label: 'ROCK',
    results,
    targetRatio: TARGET_RATIO,
    samples: SAMPLES,
    warmup: WARMUP,
    stale,
  });
});
