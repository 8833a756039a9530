/**
 * What does the service add on top of Docker for one sandbox's life: create→running, stop,
 * restart (start of the stopped container) and delete?
 *
 *   npx ts-node -r tsconfig-paths/register bench/lifecycle.bench.ts
 *
 * Needs the Docker engine, and the PostgreSQL and Redis of the integration tests (TEST_DATABASE_URL,
 * TEST_REDIS_URL). Builds the real AppModule in this process on a scratch database and Redis
 * prefix (scheduler off), listening on 127.0.0.1:<free port>, and compares per operation:
 *
 *   API     POST /v1/sandboxes?wait=true, POST …/stop, POST …/restart, DELETE …
 *   direct  the same container (buildContainerConfig: Init, no-new-privileges, memory/cpu/pids,
 *           keep-alive entrypoint, log dir mount, one port published on 127.0.0.1) with plain
 *           dockerode create+start, stop, start, rm -f -v
 *
 * Pairs are interleaved (API then direct, then direct then API, …). Also prints where the API's
 * time goes, from the answer's timestamps (createdAt, startedAt, stoppedAt) and the engine's
 * (Created, State.StartedAt, State.FinishedAt). Everything labelled with the run's instance id is
 * removed at the end, also on failure or Ctrl-C; the scratch database and Redis keys too.
 * Prints tables and writes bench/results/lifecycle.json.
 * Env: BENCH_SAMPLES (pairs, default 20), BENCH_WARMUP (default 2), BENCH_TIMEOUT_SECONDS.
 */
import 'reflect-metadata';
import { DEMO_IMAGE, ensureDemoImage, testDocker } from '../test/support/docker';
import { startInProcessApp } from './support/app';
import { DirectSandboxes, SandboxRequest, engineTimes, labelledContainers } from './support/direct';
import { SandboxAnswer, callApi, expectStatus, instant } from './support/http';
import { Breakdown } from './support/phases';
import { runBenchmark } from './support/run';
import {
  Stats,
  fmtMs,
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

const SAMPLES = positiveInt('BENCH_SAMPLES', 20);
const WARMUP = positiveInt('BENCH_WARMUP', 2);
const REQUEST: SandboxRequest = { image: DEMO_IMAGE, cpus: 0.5, memory: '256m', ports: [8080] };
const DIRECT_PORTS = { from: 45000, to: 45999 };
const OPS = ['create', 'stop', 'restart', 'delete'] as const;
type Op = (typeof OPS)[number];
type Variant = 'api' | 'direct';

runBenchmark('lifecycle', 1200, async (cleanups, deadline) => {
  await ensureDemoImage();
  const api = await startInProcessApp('postgres+redis', { SCHEDULER_ENABLED: 'false' }, cleanups);
  log(`API on ${api.url} (postgres+redis, instance ${api.instanceId})`);
  const docker = testDocker();
  const direct = new DirectSandboxes(docker, api.config, DIRECT_PORTS);

  const times: Record<Op, Record<Variant, number[]>> = {
    create: { api: [], direct: [] },
    stop: { api: [], direct: [] },
    restart: { api: [], direct: [] },
    delete: { api: [], direct: [] },
  };
  const phases = {
    apiCreate: new Breakdown(),
    directCreate: new Breakdown(),
    apiStop: new Breakdown(),
    directStop: new Breakdown(),
    apiRestart: new Breakdown(),
    directRestart: new Breakdown(),
  };

  for (let i = 0; i < WARMUP + SAMPLES; i += 1) {
    deadline.check(`pair ${i + 1}`);
    const measured = i >= WARMUP;
    const order = interleaved<Variant>(i, 'api', 'direct');
    const record = (op: Op, variant: Variant, ms: number): void => {
      if (measured) times[op][variant].push(ms);
    };

    // --- create -> running
    const directId = direct.newId();
    const hostPort = await direct.reservePort();
    let apiSandbox: SandboxAnswer | null = null;
    let apiCreateEnd = 0;
    let apiCreateSent = 0;
    let directContainer = '';
    let directCreateSent = 0;
    let directCreateEnd = 0;
    for (const variant of order) {
      if (variant === 'api') {
        const answer = await callApi<SandboxAnswer>(
          api.url,
          'POST',
          '/v1/sandboxes?wait=true',
          REQUEST,
        );
        apiSandbox = expectStatus(answer, 200, 'API create');
        if (apiSandbox.state !== 'running' || apiSandbox.containerId === null) {
          throw new Error(`API create ended ${apiSandbox.state}: ${apiSandbox.failureReason}`);
        }
        apiCreateSent = answer.sentAt;
        apiCreateEnd = answer.sentAt + answer.ms;
        record('create', 'api', answer.ms);
      } else {
        directCreateSent = now();
        const started = performance.now();
        directContainer = await direct.createAndStart(directId, REQUEST, [hostPort]);
        const ms = performance.now() - started;
        directCreateEnd = directCreateSent + ms;
        record('create', 'direct', ms);
      }
    }
    if (apiSandbox === null || apiSandbox.containerId === null) throw new Error('no API sandbox');
    const apiId = apiSandbox.id;
    const apiContainer = apiSandbox.containerId;
    if (measured) {
      const engineApi = await engineTimes(docker, apiContainer);
      phases.apiCreate.add([
        ['request sent', apiCreateSent],
        ['record created (createdAt)', instant(apiSandbox.createdAt)],
        ['docker create begun (Created)', engineApi.createdMs],
        ['process started (State.StartedAt)', engineApi.startedMs],
        ['running recorded (startedAt)', instant(apiSandbox.startedAt)],
        ['answer received', apiCreateEnd],
      ]);
      const engineDirect = await engineTimes(docker, directContainer);
      phases.directCreate.add([
        ['request sent', directCreateSent],
        ['docker create begun (Created)', engineDirect.createdMs],
        ['process started (State.StartedAt)', engineDirect.startedMs],
        ['start returned', directCreateEnd],
      ]);
    }

    // --- stop
    const stopMarks: Partial<
      Record<Variant, { sent: number; end: number; stoppedAt?: number | null }>
    > = {};
    for (const variant of order) {
      if (variant === 'api') {
        const answer = await callApi<SandboxAnswer>(api.url, 'POST', `/v1/sandboxes/${apiId}/stop`);
        const body = expectStatus(answer, 200, 'API stop');
        if (body.state !== 'stopped') throw new Error(`API stop answered ${body.state}`);
        record('stop', 'api', answer.ms);
        stopMarks.api = {
          sent: answer.sentAt,
          end: answer.sentAt + answer.ms,
          stoppedAt: instant(body.stoppedAt),
        };
      } else {
        const sent = now();
        const started = performance.now();
        await direct.stop(directContainer);
        const ms = performance.now() - started;
        record('stop', 'direct', ms);
        stopMarks.direct = { sent, end: sent + ms };
      }
    }
    if (measured && stopMarks.api && stopMarks.direct) {
      const engineApi = await engineTimes(docker, apiContainer);
      phases.apiStop.add([
        ['request sent', stopMarks.api.sent],
        ['process exited (State.FinishedAt)', engineApi.finishedMs],
        ['stopped recorded (stoppedAt)', stopMarks.api.stoppedAt ?? null],
        ['answer received', stopMarks.api.end],
      ]);
      const engineDirect = await engineTimes(docker, directContainer);
      phases.directStop.add([
        ['request sent', stopMarks.direct.sent],
        ['process exited (State.FinishedAt)', engineDirect.finishedMs],
        ['stop returned', stopMarks.direct.end],
      ]);
    }

    // --- restart (docker start of the stopped container)
    const restartMarks: Partial<
      Record<Variant, { sent: number; end: number; startedAt?: number | null }>
    > = {};
    for (const variant of order) {
      if (variant === 'api') {
        const answer = await callApi<SandboxAnswer>(
          api.url,
          'POST',
          `/v1/sandboxes/${apiId}/restart`,
        );
        const body = expectStatus(answer, 200, 'API restart');
        if (body.state !== 'running') throw new Error(`API restart answered ${body.state}`);
        record('restart', 'api', answer.ms);
        restartMarks.api = {
          sent: answer.sentAt,
          end: answer.sentAt + answer.ms,
          startedAt: instant(body.startedAt),
        };
      } else {
        const sent = now();
        const started = performance.now();
        await direct.start(directContainer);
        const ms = performance.now() - started;
        record('restart', 'direct', ms);
        restartMarks.direct = { sent, end: sent + ms };
      }
    }
    if (measured && restartMarks.api && restartMarks.direct) {
      const engineApi = await engineTimes(docker, apiContainer);
      phases.apiRestart.add([
        ['request sent', restartMarks.api.sent],
        ['process started (State.StartedAt)', engineApi.startedMs],
        ['running recorded (startedAt)', restartMarks.api.startedAt ?? null],
        ['answer received', restartMarks.api.end],
      ]);
      const engineDirect = await engineTimes(docker, directContainer);
      phases.directRestart.add([
        ['request sent', restartMarks.direct.sent],
        ['process started (State.StartedAt)', engineDirect.startedMs],
        ['start returned', restartMarks.direct.end],
      ]);
    }

    // --- delete (from stopped: the API refuses a live sandbox without force)
    expectStatus(
      await callApi<SandboxAnswer>(api.url, 'POST', `/v1/sandboxes/${apiId}/stop`),
      200,
      'API stop before delete',
    );
    await direct.stop(directContainer);
    for (const variant of order) {
      if (variant === 'api') {
        const answer = await callApi<null>(api.url, 'DELETE', `/v1/sandboxes/${apiId}`);
        expectStatus(answer, 204, 'API delete');
        record('delete', 'api', answer.ms);
      } else {
        const started = performance.now();
        await direct.remove(directContainer, directId);
        record('delete', 'direct', performance.now() - started);
      }
    }
    if (i === WARMUP - 1) log(`warm-up done (${WARMUP} pairs); measuring ${SAMPLES} pairs`);
    if (measured && (i - WARMUP + 1) % 5 === 0) log(`${i - WARMUP + 1}/${SAMPLES} pairs`);
  }

  const left = await labelledContainers(docker, api.instanceId);
  const stats = Object.fromEntries(
    OPS.map((op) => [op, { api: statsOf(times[op].api), direct: statsOf(times[op].direct) }]),
  ) as Record<Op, Record<Variant, Stats>>;
  const rows = OPS.map((op) => {
    const { api: a, direct: d } = stats[op];
    return [
      op,
      String(a.samples),
      fmtMs(a.medianMs),
      fmtMs(a.p95Ms),
      fmtMs(d.medianMs),
      fmtMs(d.p95Ms),
      fmtRatio(ratio(a.medianMs, d.medianMs)),
      fmtRatio(ratio(a.p95Ms, d.p95Ms)),
      fmtMs(a.medianMs - d.medianMs),
    ];
  });
  printTable(
    `Sandbox lifecycle: API (in-process, postgres+redis) vs direct dockerode, ${SAMPLES} interleaved pairs`,
    [
      'operation',
      'n',
      'API median ms',
      'API p95 ms',
      'direct median ms',
      'direct p95 ms',
      'ratio median',
      'ratio p95',
      'API - direct ms',
    ],
    rows,
  );
  phases.apiCreate.print('Where API create time goes (answer timestamps + docker inspect)');
  phases.directCreate.print('Direct create+start, same marks');
  phases.apiStop.print('Where API stop time goes');
  phases.directStop.print('Direct stop, same marks');
  phases.apiRestart.print('Where API restart time goes');
  phases.directRestart.print('Direct start, same marks');
  console.log(`\ncontainers labelled ${api.instanceId} left before the final sweep: ${left}`);

  const file = writeResults('lifecycle', {
    backend: 'postgres+redis',
    samples: SAMPLES,
    warmup: WARMUP,
    request: REQUEST,
    settings: {
      stopTimeoutSeconds: api.config.docker.stopTimeoutSeconds,
      schedulerEnabled: api.config.scheduler.enabled,
    },
    stats,
    ratio: Object.fromEntries(
      OPS.map((op) => [
        op,
        {
          median: ratio(stats[op].api.medianMs, stats[op].direct.medianMs),
          p95: ratio(stats[op].api.p95Ms, stats[op].direct.p95Ms),
          medianOverheadMs: round(stats[op].api.medianMs - stats[op].direct.medianMs),
        },
      ]),
    ),
    phases: Object.fromEntries(Object.entries(phases).map(([name, b]) => [name, b.stats()])),
    containersLeftBeforeSweep: left,
  });
  log(`wrote ${file}`);
  return left === 0 ? 0 : 1;
});

function now(): number {
  return performance.timeOrigin + performance.now();
}
