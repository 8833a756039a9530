import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const MAIN_PATH = join(__dirname, '..', '..', 'dist', 'apps', 'sandbox-api', 'main.js');

/** A real API process (the built dist/apps/sandbox-api/main.js), for multi-process tests. */
export class ServerProcess {
  private output = '';

  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
  ) {
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
  }

  /** `host` is where it listens (127.0.0.1 unless given); it is always called on 127.0.0.1. */
  static async start(
    env: Record<string, string>,
    options: { host?: string } = {},
  ): Promise<ServerProcess> {
    const port = await freePort();
    const child = spawnMain({
      ...env,
      PORT: String(port),
      HOST: options.host ?? '127.0.0.1',
      LOG_LEVEL: 'log',
    });
    const server = new ServerProcess(`http://127.0.0.1:${port}`, child);
    await server.waitUntilLive();
    return server;
  }

  /** Everything the process printed (logs), for assertions such as "no error was logged". */
  logs(): string {
    return this.output;
  }

  /**
   * Starts the process where it must refuse to start: answers its exit status and what it
   * printed (fails if it is still running after 30 s).
   */
  static refusal(env: Record<string, string>): Promise<{ status: number | null; output: string }> {
    const child = spawnMain({ PORT: '0', HOST: '127.0.0.1', ...env, LOG_LEVEL: 'log' });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the server did not refuse to start within 30 s:\n${output}`));
      }, 30_000);
      child.once('exit', (status) => {
        clearTimeout(timer);
        resolve({ status, output });
      });
    });
  }

  kill(signal: NodeJS.Signals): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill(signal);
    });
  }

  private waitUntilLive(): Promise<void> {
    return waitUntilLive(this.child, this.url, () => this.output);
  }
}

function spawnMain(env: Record<string, string>): ChildProcess {
  if (!existsSync(MAIN_PATH)) {
    throw new Error(`${MAIN_PATH} is missing: run "npm run build" first (scripts/test.sh does)`);
  }
  return spawn(process.execPath, [MAIN_PATH], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Polls `<url>/health/live` until the process answers; fails early if it exits. */
export async function waitUntilLive(
  child: ChildProcess,
  url: string,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`server exited with ${child.exitCode}:\n${output()}`);
    }
    try {
      const res = await fetch(`${url}/health/live`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`server did not answer within 30 s:\n${output()}`);
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}
