// @app/config's DTO decorators need the Reflect metadata polyfill before anything imports it.
import 'reflect-metadata';
import { ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseMounts } from '@app/quota';
import Dockerode from 'dockerode';
import { DEMO_IMAGE, testDocker } from './docker';

/**
 * A second Docker engine for tests of what the service does on an engine set up unlike the host's
 * (a data root on XFS, extra OCI runtimes such as gVisor's runsc). It runs in a network namespace
 * of its own (`unshare --net`), so nothing it does to networking (its bridge, its firewall rules,
 * or none at all with --bridge=none, which would delete the host's docker0) reaches the host's
 * engine and its containers. The mount namespace is shared, so its socket and data root are
 * reachable from the test. Everything else lives under `base`: exec root, socket, pid file, log.
 */

const run = promisify(execFile);

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
const LOG_TAIL_LINES = 60;

export interface SecondEngineOptions {
  /** The folder holding everything of the engine; it must exist. */
  base: string;
  /** Where the engine keeps images and containers; made if missing. Default: `base/data`. */
  dataRoot?: string;
  /**
   * `bridge`: a default bridge and firewall rules of its own, inside its namespace. `none`: no
   * networking of its own (--bridge=none, no iptables rules); only possible because of the
   * namespace.
   */
  networking: 'bridge' | 'none';
  /** daemon.json settings (e.g. `runtimes`), written to `base/daemon.json`. */
  daemonConfig?: Record<string, unknown>;
  /** Extra dockerd flags. */
  flags?: string[];
}

/** Why `unshare --net` and a dockerd cannot be run here, or null when they can. Side-effect free. */
export function secondEngineUnavailableReason(): string | null {
  const dockerd = spawnSync('dockerd', ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (dockerd.error !== undefined || dockerd.status !== 0) {
    const why = dockerd.error?.message ?? (dockerd.stderr.trim() || `exit ${dockerd.status}`);
    return `no usable dockerd binary to start a second engine with (${why})`;
  }
  for (const tool of ['unshare', 'nsenter', 'ip']) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
    if (found.status !== 0) return `no ${tool} binary (util-linux / iproute2)`;
  }
  const overlay = /\boverlay\b/.test(readFileSync('/proc/filesystems', 'utf8'));
  if (!overlay && spawnSync('modinfo', ['overlay'], { stdio: 'ignore' }).status !== 0) {
    return 'the kernel has no overlay file system (not in /proc/filesystems, no module): overlay2 cannot run';
  }
  return null;
}

interface LoadMessage {
  stream?: string;
  error?: string;
}

export class SecondEngine {
  readonly base: string;
  readonly dataRoot: string;
  readonly socketPath: string;
  readonly logPath: string;
  /** The engine's exec root: runtimes keep their state below it (runsc's --root too). */
  readonly execRoot: string;
  readonly docker: Dockerode;

  private readonly pidFile: string;
  private daemon: ChildProcess | null = null;
  /** How the daemon ended ("code 1", "signal SIGTERM", a spawn error); null while it runs. */
  private endedHow: string | null = null;
  /** Settles (never rejects) when the daemon has ended. */
  private ended: Promise<void> = Promise.resolve();

  constructor(private readonly options: SecondEngineOptions) {
    this.base = options.base;
    this.dataRoot = options.dataRoot ?? join(this.base, 'data');
    this.socketPath = join(this.base, 'docker.sock');
    this.logPath = join(this.base, 'dockerd.log');
    this.execRoot = join(this.base, 'exec');
    this.pidFile = join(this.base, 'dockerd.pid');
    this.docker = new Dockerode({ socketPath: this.socketPath });
  }

  /** `/proc/<pid>/ns/net` of the engine, for `nsenter --net=` into its network namespace. */
  get netns(): string {
    const pid = this.daemon?.pid;
    if (pid === undefined || !this.isRunning())
      throw new Error('the second dockerd is not running');
    return `/proc/${pid}/ns/net`;
  }

  /** Starts dockerd, waits until it answers, loads the demo image from the host's engine. */
  async start(): Promise<void> {
    await mkdir(this.dataRoot, { recursive: true });
    await mkdir(this.execRoot, { recursive: true });
    this.spawnDaemon();
    try {
      await this.waitUntilAnswering();
      await this.loadDemoImage();
    } catch (error) {
      console.error(
        `second dockerd failed to come up; ${this.logPath} ends with:\n${this.logTail()}`,
      );
      throw error;
    }
  }

  /** The last lines of the engine's own log. */
  logTail(lines = LOG_TAIL_LINES): string {
    if (!existsSync(this.logPath)) return '(no log written)';
    return readFileSync(this.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Mount points at or under `path`, as the kernel lists them (octal escapes decoded). */
  static mountsUnder(path: string): string[] {
    return parseMounts(readFileSync('/proc/self/mounts', 'utf8'))
      .map((entry) => entry.target)
      .filter((target) => target === path || target.startsWith(`${path}/`));
  }

  /**
   * Removes every container on the engine, stops it (SIGTERM, waits), stops its containerd and any
   * runtime process left under its exec root, and unmounts what it left under `base` (but
   * `keepMounts`). Runs every step even when one fails; returns the problems, for the caller's
   * own teardown to report with its own.
   */
  async stop(keepMounts: readonly string[] = []): Promise<string[]> {
    const problems: string[] = [];
    const step = async (what: string, action: () => Promise<void>) => {
      try {
        await action();
      } catch (error) {
        problems.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    if (this.daemon !== null) {
      await step('removing the containers on the second engine', () => this.removeContainers());
      await step('stopping the second dockerd', () => this.stopDaemon());
    }
    await step('stopping its containerd', () => this.stopOwnContainerd());
    await step('stopping runtime processes it left', () => this.stopStrayRuntimes());
    // dockerd unmounts its overlays on a clean shutdown; after a kill some may remain.
    await step('unmounting what the engine left', async () => {
      const stray = SecondEngine.mountsUnder(this.base).filter((m) => !keepMounts.includes(m));
      for (const target of stray.reverse()) {
        console.warn(`unmounting ${target}, left behind by the second dockerd`);
        await run('umount', [target]);
      }
    });
    return problems;
  }

  private spawnDaemon(): void {
    const config = join(this.base, 'daemon.json');
    writeFileSync(config, JSON.stringify(this.options.daemonConfig ?? {}, null, 2));
    const networking =
      this.options.networking === 'none'
        ? ['--bridge=none', '--iptables=false', '--ip-masq=false']
        : [];
    const dockerd = [
      'dockerd',
      '--config-file',
      config,
      '--data-root',
      this.dataRoot,
      '--exec-root',
      this.execRoot,
      '--pidfile',
      this.pidFile,
      '-H',
      `unix://${this.socketPath}`,
      '--storage-driver=overlay2',
      ...networking,
      ...(this.options.flags ?? []),
    ];
    const log = openSync(this.logPath, 'a');
    let child: ChildProcess;
    try {
      // A new network namespace starts with lo down; published ports on 127.0.0.1 need it up.
      // `exec` keeps dockerd the spawned process, so its pid names the namespace.
      child = spawn(
        'unshare',
        ['--net', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', ...dockerd],
        { stdio: ['ignore', log, log] },
      );
    } finally {
      closeSync(log); // the child holds its own descriptor
    }
    this.daemon = child;
    this.ended = new Promise<void>((resolve) => {
      const end = (how: string) => {
        this.endedHow ??= how;
        resolve();
      };
      child.once('exit', (code, signal) => end(signal ? `signal ${signal}` : `code ${code}`));
      child.once('error', (error) => end(`spawn error: ${error.message}`));
    });
  }

  private async waitUntilAnswering(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastError = '';
    for (;;) {
      if (this.endedHow !== null) {
        throw new Error(
          `the second dockerd ended (${this.endedHow}) before answering on ${this.socketPath}`,
        );
      }
      try {
        await this.docker.ping();
        return;
      } catch (error) {
        lastError = error instanceof Error ? error.message : String(error);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `the second dockerd did not answer on ${this.socketPath} in ${READY_TIMEOUT_MS} ms (${lastError})`,
        );
      }
      await delay(200);
    }
  }

  /** `docker save sandboxd/demo:latest | docker -H <socket> load`, through the API. */
  private async loadDemoImage(): Promise<void> {
    const main = testDocker();
    const wanted = await main.getImage(DEMO_IMAGE).inspect();
    const tar = await main.getImage(DEMO_IMAGE).get();
    const progress = await this.docker.loadImage(tar);
    const messages = await new Promise<LoadMessage[]>((resolve, reject) => {
      this.docker.modem.followProgress(progress, (error, output: LoadMessage[]) =>
        error ? reject(error) : resolve(output),
      );
    });
    const failed = messages.find((m) => m.error !== undefined);
    if (failed !== undefined) throw new Error(`loading ${DEMO_IMAGE}: ${failed.error}`);
    const loaded = await this.docker.getImage(DEMO_IMAGE).inspect();
    if (loaded.Id !== wanted.Id) {
      throw new Error(`loaded ${DEMO_IMAGE} as ${loaded.Id}, the main engine has ${wanted.Id}`);
    }
  }

  private async removeContainers(): Promise<void> {
    if (!this.isRunning()) return;
    const containers = await this.docker.listContainers({ all: true });
    await Promise.all(
      containers.map((c) => this.docker.getContainer(c.Id).remove({ force: true, v: true })),
    );
  }

  private isRunning(): boolean {
    return this.daemon !== null && this.endedHow === null;
  }

  private async stopDaemon(): Promise<void> {
    const daemon = this.daemon;
    if (daemon === null || !this.isRunning()) return;
    daemon.kill('SIGTERM');
    if (!(await settlesWithin(this.ended, STOP_TIMEOUT_MS))) {
      daemon.kill('SIGKILL');
      await this.ended;
      throw new Error(`dockerd did not stop within ${STOP_TIMEOUT_MS} ms of SIGTERM; killed it`);
    }
  }

  /**
   * dockerd stops the containerd it started on a clean shutdown. If it was killed instead, that
   * containerd (the one whose pid file is in this engine's exec root, and no other) goes too.
   */
  private async stopOwnContainerd(): Promise<void> {
    const pidFile = join(this.execRoot, 'containerd', 'containerd.pid');
    if (!existsSync(pidFile)) return;
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0 || !this.owns(pid)) return;
    await this.terminate(pid);
    throw new Error(`containerd ${pid} outlived its dockerd; stopped it`);
  }

  /**
   * Runtime processes (a runsc sandbox or gofer whose start failed) that outlived their
   * containers: those whose command line names this engine's exec root, and no other.
   */
  private async stopStrayRuntimes(): Promise<void> {
    const stray = readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .map(Number)
      .filter((pid) => pid !== process.pid && this.owns(pid));
    for (const pid of stray) await this.terminate(pid);
    if (stray.length > 0) {
      throw new Error(`${stray.length} runtime process(es) outlived the engine; stopped them`);
    }
  }

  /** Whether the process's command line names this engine's exec root (so it is ours). */
  private owns(pid: number): boolean {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(this.execRoot);
    } catch {
      return false; // gone
    }
  }

  private async terminate(pid: number): Promise<void> {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return; // gone meanwhile
    }
    const deadline = Date.now() + 10_000;
    while (this.owns(pid) && Date.now() < deadline) await delay(100);
    if (this.owns(pid)) process.kill(pid, 'SIGKILL');
  }
}

/** Whether `promise` settles within `ms`; the timer does not outlive the answer. */
async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
