/**
 * What does the API add to running a command in a sandbox?
 *
 *   npx ts-node -r tsconfig-paths/register bench/exec.bench.ts
 *
 * Needs the Docker engine, the PostgreSQL and Redis of the integration tests and a build (npm run
 * build): the server is the production artifact, dist/apps/sandbox-api/main.js, in its own process
 * on 127.0.0.1 (scheduler off). Per backend (embedded SQLite + in-process cache, PostgreSQL +
 * Redis) it creates one sandbox through the API (POST /v1/sandboxes?wait=true) and one container
 * of the same image and configuration directly (buildContainerConfig, as the lifecycle benchmark),
 * then times each command, in pairs interleaved (API then direct, direct then API, ...):
 *
 *   API     POST /v1/sandboxes/:id/exec {"command": argv}: one JSON answer with the exit code and
 *           the output, as a client sees it (fetch over a kept-alive connection)
 *   direct  dockerode: exec create, exec start (hijacked), read the output to its end, exec
 *           inspect until the exit code is recorded
 *
 * Commands: `true` (nothing but the exec itself) and `echo hello` (its output must come back as
 * "hello\n" on both sides). Prints per command n, medians and p95s, their ratios and the API's
 * extra time; then where the direct exec's time goes and the API's own durationMs (the server's
 * clock from exec start to the end of the output). Target: API / direct < 1.2 at the median for
 * `true`; exits 1 when missed. Everything is removed at the end (containers by the run's instance
 * label, the scratch database, the SQLite folder, Redis keys). Writes bench/results/exec.json.
 * Env: BENCH_SAMPLES (pairs per command, default 100), BENCH_WARMUP (default 5), BENCH_BACKENDS,
 * BENCH_TIMEOUT_SECONDS (default 900).
 */
import 'reflect-metadata';
import { loadConfig } from '@app/config';
import { DEMO_IMAGE, ensureDemoImage, testDocker } from '../test/support/docker';
import { Backend, backendsFromEnv, benchEnv } from './support/app';
import { DirectSandboxes, SandboxRequest } from './support/direct';
import { ExecRun, apiExec, directExec } from './support/exec';
import { SandboxAnswer, callApi, expectStatus } from './support/http';
import { Breakdown } from './support/phases';
import { Cleanups, runBenchmark } from './support/run';
import { BenchServer, staleBuild } from './support/server';
import {
  Stats,
  fmtMs,
  fmtRatio,
  interleaved,
  log,
  positiveInt,
  printTable,
  ratio,
  statsOf,
  writeResults,
} from './support/stats';

const SAMPLES = positiveInt('BENCH_SAMPLES', 100);
const WARMUP = positiveInt('BENCH_WARMUP', 5);
const BACKENDS = backendsFromEnv();
const REQUEST: SandboxRequest = { image: DEMO_IMAGE, cpus: 0.5, memory: '256m', ports: [] };
const DIRECT_PORTS = { from: 45000, to: 45999 };
const TARGET_RATIO = 1.2;

const COMMANDS = {
  true: { argv: ['true'], stdout: '' },
  'echo hello': { argv: ['echo', 'hello'], stdout: 'hello\n' },
} as const;
type Command = keyof typeof COMMANDS;
type Variant = 'api' | 'direct';

interface CommandResult {
  api: Stats;
  direct: Stats;
  ratioMedian: number | null;
  ratioP95: number | null;
  extraMedianMs: number;
  /** The server's own durationMs of the API runs (exec start to end of output). */
  apiServerDuration: Stats;
  /** Share of direct runs whose exit code was not yet recorded when the output ended. */
  directExitCodeLate: number;
  directPhases: Record<string, Stats>;
}

runBenchmark('exec', 900, async (cleanups, deadline) => {
  const stale = staleBuild();
  if (stale !== null) log(`WARNING: ${stale} is newer than the build; run "npm run build" first`);
  await ensureDemoImage();
  const docker = testDocker();
  const results: Partial<Record<Backend, Record<Command, CommandResult>>> = {};

  for (const backend of BACKENDS) {
    deadline.check(backend);
    // This backend's server, containers and stores go away before the next backend starts.
    const scoped = new Cleanups();
    cleanups.add(`${backend} backend`, () => scoped.runAll());
    const environment = await benchEnv(backend, { SCHEDULER_ENABLED: 'false' }, scoped);
    const api = await BenchServer.start(environment.env, scoped);
    const sandbox = expectStatus(
      await callApi<SandboxAnswer>(api.url, 'POST', '/v1/sandboxes?wait=true', REQUEST),
      200,
      'API create',
    );
    if (sandbox.state !== 'running') throw new Error(`API create ended ${sandbox.state}`);
    const direct = new DirectSandboxes(docker, loadConfig(environment.env), DIRECT_PORTS);
    const directId = direct.newId();
    const container = await direct.createAndStart(directId, REQUEST, []);
    scoped.add(`direct container ${directId}`, () => direct.remove(container, directId));
    log(`${backend}: server pid ${api.pid}, sandbox ${sandbox.id}, direct container ${directId}`);

    const byCommand: Partial<Record<Command, CommandResult>> = {};
    for (const command of Object.keys(COMMANDS) as Command[]) {
      const { argv, stdout } = COMMANDS[command];
      const times: Record<Variant, number[]> = { api: [], direct: [] };
      const serverDurations: number[] = [];
      const phases = new Breakdown();
      let late = 0;
      for (let i = 0; i < WARMUP + SAMPLES; i += 1) {
        deadline.check(`${backend} ${command} pair ${i + 1}`);
        const measured = i >= WARMUP;
        for (const variant of interleaved<Variant>(i, 'api', 'direct')) {
          if (variant === 'api') {
            const run = expectOutput(await apiExec(api.url, sandbox.id, argv), stdout, 'API');
            if (!measured) continue;
            times.api.push(run.ms);
            serverDurations.push(run.durationMs);
          } else {
            const run = expectOutput(await directExec(docker, container, argv), stdout, 'direct');
            if (!measured) continue;
            times.direct.push(run.ms);
            if (run.inspects > 1) late += 1;
            const m = run.marks;
            phases.add([
              ['sent', m.sent],
              ['exec created', m.created],
              ['exec started', m.started],
              ['output ended', m.outputEnded],
              ['exit code read', m.exitCodeRead],
            ]);
          }
        }
      }
      byCommand[command] = summarize(times, serverDurations, late, phases);
      const r = byCommand[command];
      log(
        `${backend} ${command}: API ${fmtMs(r.api.medianMs)} ms, direct ${fmtMs(r.direct.medianMs)} ms ` +
          `(median), ratio ${fmtRatio(r.ratioMedian)}`,
      );
    }
    results[backend] = byCommand as Record<Command, CommandResult>;
    await scoped.runAll();
  }

  const verdicts: string[] = [];
  let pass = true;
  for (const backend of BACKENDS) {
    const byCommand = results[backend];
    if (!byCommand) continue;
    printResults(backend, byCommand);
    const ratioTrue = byCommand.true.ratioMedian;
    const ok = ratioTrue !== null && ratioTrue < TARGET_RATIO;
    pass &&= ok;
    verdicts.push(
      `${backend}: exec "true" API/direct ${fmtRatio(ratioTrue)} at the median ` +
        `(target < ${TARGET_RATIO.toFixed(2)}x) -> ${ok ? 'OK' : 'MISSED'}`,
    );
  }
  console.log('');
  for (const line of verdicts) console.log(line);

  const file = writeResults('exec', {
    server: 'node dist/apps/sandbox-api/main.js (own process)',
    buildOlderThan: stale,
    image: DEMO_IMAGE,
    samples: SAMPLES,
    warmup: WARMUP,
    commands: Object.fromEntries(Object.entries(COMMANDS).map(([name, c]) => [name, c.argv])),
    results,
    target: { command: 'true', maxMedianRatio: TARGET_RATIO },
    pass,
  });
  log(`wrote ${file}`);
  return pass ? 0 : 1;
});

/** The run, once its exit code is 0 and its stdout the expected text; else an error. */
function expectOutput<T extends ExecRun>(run: T, stdout: string, what: string): T {
  if (run.exitCode !== 0 || run.stdout !== stdout) {
    throw new Error(
      `${what} exec: exit code ${run.exitCode}, stdout ${JSON.stringify(run.stdout)}, ` +
        `stderr ${JSON.stringify(run.stderr)}`,
    );
  }
  return run;
}

function summarize(
  times: Record<Variant, number[]>,
  serverDurations: number[],
  late: number,
  phases: Breakdown,
): CommandResult {
  const api = statsOf(times.api);
  const direct = statsOf(times.direct);
  return {
    api,
    direct,
    ratioMedian: ratio(api.medianMs, direct.medianMs),
    ratioP95: ratio(api.p95Ms, direct.p95Ms),
    extraMedianMs: api.medianMs - direct.medianMs,
    apiServerDuration: statsOf(serverDurations),
    directExitCodeLate: ratio(late, times.direct.length) ?? 0,
    directPhases: phases.stats(),
  };
}

function printResults(backend: Backend, byCommand: Record<Command, CommandResult>): void {
  const commands = Object.keys(byCommand) as Command[];
  printTable(
    `${backend}: exec in a running sandbox, API vs direct dockerode, ${SAMPLES} interleaved pairs per command`,
    [
      'command',
      'n',
      'API median',
      'API p95',
      'direct median',
      'direct p95',
      'ratio median',
      'ratio p95',
      'API - direct (median)',
    ],
    commands.map((command) => {
      const r = byCommand[command];
      return [
        command,
        String(r.api.samples),
        fmtMs(r.api.medianMs),
        fmtMs(r.api.p95Ms),
        fmtMs(r.direct.medianMs),
        fmtMs(r.direct.p95Ms),
        fmtRatio(r.ratioMedian),
        fmtRatio(r.ratioP95),
        fmtMs(r.extraMedianMs),
      ];
    }),
  );
  printTable(
    `${backend}: where the time goes (ms)`,
    ['command: phase', 'median', 'p95'],
    commands.flatMap((command) => {
      const r = byCommand[command];
      return [
        ...Object.entries(r.directPhases).map(([phase, s]) => [
          `${command}: direct ${phase}`,
          fmtMs(s.medianMs),
          fmtMs(s.p95Ms),
        ]),
        [
          `${command}: direct, exit code not yet recorded when the output ended`,
          `${Math.round(r.directExitCodeLate * 100)}% of runs`,
          '',
        ],
        [
          `${command}: API, server durationMs (exec start -> end of output)`,
          fmtMs(r.apiServerDuration.medianMs),
          fmtMs(r.apiServerDuration.p95Ms),
        ],
      ];
    }),
  );
}
