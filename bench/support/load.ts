import { ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import type autocannon from 'autocannon';
import type { Cleanups } from './run';

export interface LoadJob {
  url: string;
  /** Request paths, taken round robin. */
  paths: string[];
  connections: number;
  durationSeconds: number;
  /** Requests per second over all connections (a steady poll), instead of as fast as possible. */
  overallRate?: number;
}

export type LoadReply = { ok: true; result: autocannon.Result } | { ok: false; error: string };

/** What a benchmark keeps of one autocannon run. */
export interface LoadSummary {
  requestsPerSec: number;
  total: number;
  latencyMs: { p50: number; p97_5: number; p99: number; mean: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  durationSeconds: number;
}

/**
 * autocannon in a child process (load-worker.ts under ts-node, transpile only), one job at a time.
 * The child is killed by the run's cleanups.
 */
export class LoadGenerator {
  private constructor(private readonly child: ChildProcess) {}

  static async start(cleanups: Cleanups): Promise<LoadGenerator> {
    const child = fork(join(__dirname, 'load-worker.ts'), [], {
      execArgv: ['-r', 'ts-node/register/transpile-only'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    cleanups.add('load generator', () => stopChild(child));
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    return new LoadGenerator(child);
  }

  run(job: LoadJob): Promise<LoadSummary> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null): void =>
        reject(new Error(`load generator exited with ${code}`));
      this.child.once('exit', onExit);
      this.child.once('message', (message: LoadReply) => {
        this.child.removeListener('exit', onExit);
        if (!message.ok) {
          reject(new Error(message.error));
          return;
        }
        const r = message.result;
        resolve({
          requestsPerSec: r.requests.average,
          total: r.requests.total,
          latencyMs: {
            p50: r.latency.p50,
            p97_5: r.latency.p97_5,
            p99: r.latency.p99,
            mean: r.latency.mean,
            max: r.latency.max,
          },
          non2xx: r.non2xx,
          errors: r.errors,
          timeouts: r.timeouts,
          durationSeconds: r.duration,
        });
      });
      this.child.send(job);
    });
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
