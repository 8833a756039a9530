import { ChildProcess, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { freePort, waitUntilLive } from '../../test/support/server-process';
import type { Cleanups } from './run';
import { RESULTS_DIR, log } from './stats';

export const MAIN = join(__dirname, '..', '..', 'dist', 'apps', 'sandbox-api', 'main.js');

/** What the server process reports about its memory after a forced full GC. */
export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** Peak RSS of the process so far (VmHWM), when /proc has it. */
  peakRss: number | null;
}

/**
 * The production artifact (dist/apps/sandbox-api/main.js) with --expose-gc, loaded by a few lines
 * of `-e` code that answer a `memory` message over IPC with process.memoryUsage() after a full GC,
 * and that stop the server (SIGTERM, Nest's shutdown hooks) when the benchmark process goes away.
 */
const wrapper = (main: string): string => `
process.on('message', (message) => {
  if (!message || message.type !== 'memory') return;
  for (let i = 0; i < 3; i += 1) globalThis.gc();
  const u = process.memoryUsage();
  process.send({ type: 'memory', rss: u.rss, heapUsed: u.heapUsed, heapTotal: u.heapTotal,
    external: u.external, arrayBuffers: u.arrayBuffers });
});
let profiler = null;
process.on('message', (message) => {
  if (!message) return;
  if (message.type === 'profile-start' && profiler === null) {
    profiler = new (require('node:inspector').Session)();
    profiler.connect();
    profiler.post('Profiler.enable', () =>
      profiler.post('Profiler.setSamplingInterval', { interval: message.intervalUs }, () =>
        profiler.post('Profiler.start', () => process.send({ type: 'profile-start' }))));
  } else if (message.type === 'profile-stop' && profiler !== null) {
    profiler.post('Profiler.stop', (error, result) => {
      if (!error) require('node:fs').writeFileSync(message.path, JSON.stringify(result.profile));
      profiler.disconnect();
      profiler = null;
      process.send({ type: 'profile-stop', error: error ? String(error) : null });
    });
  }
});
process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
require(${JSON.stringify(main)});
`;

/** A real API process on 127.0.0.1:<free port>, stopped by the run's cleanups. */
export class BenchServer {
  private output = '';

  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
  ) {
    const keep = (d: Buffer): void => {
      // The tail is enough to explain a failure.
      this.output = (this.output + d.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  static async start(env: Record<string, string>, cleanups: Cleanups): Promise<BenchServer> {
    const main = await mainSnapshot();
    const port = await freePort();
    const child = spawn(process.execPath, ['--expose-gc', '-e', wrapper(main)], {
      env: { ...process.env, LOG_LEVEL: 'warn', ...env, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const server = new BenchServer(`http://127.0.0.1:${port}`, child);
    cleanups.add(`server ${port}`, () => server.stop());
    await server.waitUntilLive();
    return server;
  }

  logs(): string {
    return this.output;
  }

  /** Full GC, then process.memoryUsage(), inside the server process. */
  memory(): Promise<MemorySample> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no memory answer within 10 s')), 10_000);
      this.child.once('message', (message: Omit<MemorySample, 'peakRss'>) => {
        clearTimeout(timer);
        resolve({
          rss: message.rss,
          heapUsed: message.heapUsed,
          heapTotal: message.heapTotal,
          external: message.external,
          arrayBuffers: message.arrayBuffers,
          peakRss: peakRssOf(this.pid),
        });
      });
      this.child.send({ type: 'memory' });
    });
  }

  /**
   * Starts the V8 CPU profiler inside the server (the inspector's Profiler, what --cpu-prof uses),
   * sampling every `intervalUs` µs; the returned function stops it and writes the .cpuprofile to
   * `path`. Unlike --cpu-prof, it covers only the window a bench asks for, and needs no clean exit
   * (Nest's shutdown hooks end the process by re-raising SIGTERM, which writes no profile).
   */
  async startProfile(path: string, intervalUs = 200): Promise<() => Promise<void>> {
    await this.ask({ type: 'profile-start', intervalUs });
    return async () => {
      const answer = await this.ask({ type: 'profile-stop', path });
      if (typeof answer.error === 'string') throw new Error(`profile not written: ${answer.error}`);
    };
  }

  /** SIGTERM (graceful shutdown), SIGKILL after 10 s. */
  stop(): Promise<void> {
    return stopProcess(this.child);
  }

  /** Sends `message` over IPC and resolves with the first answer of the same type. */
  private ask(
    message: { type: string } & Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.child.off('message', onMessage);
        reject(new Error(`no ${message.type} answer within 30 s`));
      }, 30_000);
      const onMessage = (answer: { type?: unknown } & Record<string, unknown>): void => {
        if (answer?.type !== message.type) return;
        clearTimeout(timer);
        this.child.off('message', onMessage);
        resolve(answer);
      };
      this.child.on('message', onMessage);
      this.child.send(message);
    });
  }

  private waitUntilLive(): Promise<void> {
    return waitUntilLive(this.child, this.url, () => this.output);
  }
}

/** A reference server, not the service: what plain Node, or bare Express, reaches on this machine. */
export type ReferenceKind = 'node:http' | 'express';

/**
 * Answers GET /health/live with the same small JSON as the service's liveness route, in its own
 * process: `node:http` with no framework at all, or a bare Express app (the service's HTTP layer,
 * without Nest and without any of the service's middleware).
 */
export class ReferenceServer {
  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(kind: ReferenceKind, cleanups: Cleanups): Promise<ReferenceServer> {
    const port = await freePort();
    const code =
      kind === 'node:http'
        ? `
      const body = JSON.stringify({ status: 'ok' });
      require('node:http')
        .createServer((req, res) => {
          res.writeHead(200, { 'content-type': 'application/json; charset=utf-8',
            'content-length': Buffer.byteLength(body) });
          res.end(body);
        })
        .listen(${port}, '127.0.0.1');
      process.on('disconnect', () => process.exit(0));`
        : `
      const app = require('express')();
      app.get('/health/live', (req, res) => res.json({ status: 'ok' }));
      app.listen(${port}, '127.0.0.1');
      process.on('disconnect', () => process.exit(0));`;
    const child = spawn(process.execPath, ['-e', code], {
      cwd: join(__dirname, '..', '..'),
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const server = new ReferenceServer(`http://127.0.0.1:${port}`, child);
    cleanups.add(`${kind} reference ${port}`, () => stopProcess(child));
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        if ((await fetch(`${server.url}/health/live`)).ok) return server;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${kind} reference server did not start`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

let snapshot: string | null = null;

/**
 * A copy of main.js taken at the first start, so a rebuild during the run (nest build empties
 * dist/ first) cannot pull the file away between two server starts. It lives in bench/results/
 * (ignored by git), where bare imports still resolve to the project's node_modules, and is removed
 * when this process exits.
 */
async function mainSnapshot(): Promise<string> {
  if (snapshot !== null) return snapshot;
  // A build that is running right now (nest build empties dist/ first) gets up to 3 minutes.
  for (let waited = 0; !existsSync(MAIN); waited += 2) {
    if (waited >= 180) throw new Error(`${MAIN} is missing: run "npm run build" first`);
    if (waited === 0) log(`waiting for ${MAIN} (a build running?)`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  // Let a build that just wrote the file finish writing it.
  for (let size = -1; statSync(MAIN).size !== size;) {
    size = statSync(MAIN).size;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `.sandbox-api-${process.pid}.js`);
  copyFileSync(MAIN, path);
  process.once('exit', () => rmSync(path, { force: true }));
  snapshot = path;
  return path;
}

/**
 * Whether dist/apps/sandbox-api/main.js is older than a source file of the app or its libraries
 * (then the numbers are for the last build, not for the working tree). Returns the newest such file.
 */
export function staleBuild(): string | null {
  if (!existsSync(MAIN)) return null;
  const built = statSync(MAIN).mtimeMs;
  const root = join(__dirname, '..', '..');
  let newest: { path: string; mtime: number } | null = null;
  const walk = (dir: string, depth: number): void => {
    if (depth > 8) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path, depth + 1);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) {
        const mtime = statSync(path).mtimeMs;
        if (mtime > built && (newest === null || mtime > newest.mtime)) newest = { path, mtime };
      }
    }
  };
  walk(join(root, 'apps', 'sandbox-api', 'src'), 0);
  walk(join(root, 'libs'), 0);
  const found = newest as { path: string; mtime: number } | null;
  return found === null ? null : found.path.slice(root.length + 1);
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function peakRssOf(pid: number): number | null {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}
