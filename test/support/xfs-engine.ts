// @app/config's DTO decorators need the Reflect metadata polyfill before anything imports it.
import 'reflect-metadata';
import { ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseMounts } from '@app/quota';
import Dockerode from 'dockerode';
import { mountOptions, xfsUnavailableReason } from '../integration/quota/xfs-fixture';
import { DEMO_IMAGE, testDocker } from './docker';

/**
 * A second Docker engine whose data root is a fresh loop-mounted XFS (made by
 * scripts/xfs-test-mount.sh), for tests of what the service does when overlay2 sits on XFS.
 * Everything lives under one temporary dir (`base`): the image file, the mount point, the
 * engine's exec root, socket, pid file and log, so teardown can prove nothing is left behind.
 */

const SCRIPT = join(__dirname, '..', '..', 'scripts', 'xfs-test-mount.sh');
const run = promisify(execFile);

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
const LOG_TAIL_LINES = 60;

/**
 * Why the second engine cannot be made here, or null when it can. Side-effect free, checked
 * before any test runs: only a machine that truly lacks a prerequisite skips; an engine that fails
 * to start on a capable machine fails the suite (with the engine's log) instead.
 */
export function xfsEngineUnavailableReason(): string | null {
  const xfs = xfsUnavailableReason();
  if (xfs !== null) return xfs;
  // The kernel creates /proc/fs/xfs/xqmstat only when built with XFS quota (CONFIG_XFS_QUOTA).
  // Then the mount script gets -o prjquota, Docker honours --storage-opt size= and the unsupported
  // path this engine exists for cannot be reached.
  if (existsSync('/proc/fs/xfs/xqmstat')) {
    return 'the kernel has XFS quota support (/proc/fs/xfs/xqmstat exists): the test mount would get prjquota and the engine would honour --storage-opt, so the unsupported path cannot be exercised';
  }
  const dockerd = spawnSync('dockerd', ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (dockerd.error !== undefined || dockerd.status !== 0) {
    const why = dockerd.error?.message ?? (dockerd.stderr.trim() || `exit ${dockerd.status}`);
    return `no usable dockerd binary to start a second engine with (${why})`;
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

export class XfsEngine {
  readonly base = mkdtempSync(join(tmpdir(), 'sandboxd-xfs-engine-'));
  readonly mountPoint = join(this.base, 'mnt');
  readonly dataRoot = join(this.mountPoint, 'docker');
  readonly socketPath = join(this.base, 'docker.sock');
  readonly logPath = join(this.base, 'dockerd.log');
  readonly docker = new Dockerode({ socketPath: this.socketPath });
  /** What xfs-test-mount.sh said about the mount it made (with or without prjquota). */
  mountSaid = '';

  private readonly work = join(this.base, 'work');
  private readonly image = join(this.work, 'xfs-test.img');
  private readonly execRoot = join(this.base, 'exec');
  private readonly pidFile = join(this.base, 'dockerd.pid');
  private daemon: ChildProcess | null = null;
  /** How the daemon ended ("code 1", "signal SIGTERM", a spawn error); null while it runs. */
  private endedHow: string | null = null;
  /** Settles (never rejects) when the daemon has ended. */
  private ended: Promise<void> = Promise.resolve();

  /** Mounts the XFS, starts dockerd on it, waits until it answers, loads the demo image. */
  async start(): Promise<void> {
    const { stdout, stderr } = await run('bash', [SCRIPT, this.work, this.mountPoint], {
      timeout: 180_000,
    });
    this.mountSaid = stderr.trim();
    const said = stdout.trim().split('\n').pop();
    if (said !== this.mountPoint) {
      throw new Error(`xfs-test-mount.sh mounted ${said}, expected ${this.mountPoint}`);
    }
    const options = mountOptions(this.mountPoint);
    if (options.includes('prjquota') || options.includes('pquota')) {
      throw new Error(
        `${this.mountPoint} was mounted with project quota (${options.join(',')}): this engine is for the path where it is missing`,
      );
    }
    await mkdir(this.dataRoot);
    await mkdir(this.execRoot);
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
   * Removes every container on the engine, stops it (SIGTERM, waits), unmounts and removes the
   * XFS (`xfs-test-mount.sh --teardown`) and the temporary dir. Runs every step even when one
   * fails; throws at the end if anything went wrong or anything is left (a mount, a loop device,
   * the dir).
   */
  async teardown(): Promise<void> {
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
    // dockerd unmounts its overlays on a clean shutdown; after a kill some may remain.
    await step('unmounting what the engine left', async () => {
      const stray = XfsEngine.mountsUnder(this.base).filter((m) => m !== this.mountPoint);
      for (const target of stray.reverse()) {
        console.warn(`unmounting ${target}, left behind by the second dockerd`);
        await run('umount', [target]);
      }
    });
    await step('unmounting and removing the XFS', async () => {
      await run('bash', [SCRIPT, '--teardown', this.work, this.mountPoint], { timeout: 60_000 });
    });
    const mounts = XfsEngine.mountsUnder(this.base);
    if (mounts.length > 0) {
      // Removing the dir now would recurse into a live mount.
      problems.push(`still mounted: ${mounts.join(', ')}`);
    } else {
      rmSync(this.base, { recursive: true, force: true });
    }
    await step('checking loop devices', async () => {
      const { stdout } = await run('losetup', ['--list', '--noheadings', '-O', 'NAME,BACK-FILE']);
      const loops = stdout.split('\n').filter((line) => line.includes(this.image));
      if (loops.length > 0) throw new Error(`loop devices still attached: ${loops.join('; ')}`);
    });
    if (existsSync(this.base)) problems.push(`${this.base} still exists`);
    if (problems.length > 0) {
      throw new Error(`teardown of the XFS engine:\n- ${problems.join('\n- ')}`);
    }
  }

  private spawnDaemon(): void {
    const log = openSync(this.logPath, 'a');
    let child: ChildProcess;
    try {
      // In a network namespace of its own: with --bridge=none, dockerd deletes the host's docker0
      // at start-up, which would cut the main engine's containers off their bridge. `unshare
      // --net` keeps the mount namespace (the data root and socket stay reachable).
      child = spawn(
        'unshare',
        [
          '--net',
          'dockerd',
          '--data-root',
          this.dataRoot,
          '--exec-root',
          this.execRoot,
          '--pidfile',
          this.pidFile,
          '-H',
          `unix://${this.socketPath}`,
          // No networking of its own: no bridge, no iptables rules.
          '--bridge=none',
          '--iptables=false',
          '--ip-masq=false',
          // mkfs.xfs sets ftype=1 by default, which overlay2 on XFS needs.
          '--storage-driver=overlay2',
        ],
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
    const ours = () => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(this.execRoot);
      } catch {
        return false; // gone
      }
    };
    if (!Number.isInteger(pid) || pid <= 0 || !ours()) return;
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while (ours() && Date.now() < deadline) await delay(100);
    if (ours()) process.kill(pid, 'SIGKILL');
    throw new Error(`containerd ${pid} outlived its dockerd; stopped it`);
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

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
