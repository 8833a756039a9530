// @app/config's DTO decorators need the Reflect metadata polyfill before anything imports it.
import 'reflect-metadata';
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  createWriteStream,
  existsSync,
  openSync,
  readFileSync,
  readdirSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import Dockerode from 'dockerode';
import { DEMO_IMAGE, testDocker } from '../docker';
import { SecondEngine } from '../second-engine';
import { netnsPath, nsenterArgs, processesInNetns } from './netns';

/**
 * One machine of the test swarm: a dockerd in a named network namespace of its own, with its
 * data root, exec root, socket, pid file and log under `base`. Modelled on SecondEngine
 * (test/support/second-engine.ts), with what a cluster needs on top: being killed like a lost
 * machine and coming back on the same data root, so the swarm sees it go down and rejoin.
 * The mount namespace is the host's, so the socket and the data root are reachable from the test.
 */

const run = promisify(execFile);

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
const LOG_TAIL_LINES = 60;
/** The label of the containers tests make; stop() removes them before stopping the engine. */
export const MANAGED_LABEL = 'io.sandboxd.managed=true';

export interface SwarmNodeOptions {
  index: number;
  /** The node's own folder (made if missing). */
  base: string;
  /** Name of the network namespace (already made) the engine runs in. */
  netns: string;
  /** The node's address on the cluster network. */
  ip: string;
}

/** A `docker save` of the demo image, saved once and loaded into every node. */
export interface ImageArchive {
  path: string;
  id: string;
}

interface LoadMessage {
  stream?: string;
  error?: string;
}

export class SwarmNode {
  readonly index: number;
  readonly base: string;
  readonly dataRoot: string;
  readonly execRoot: string;
  readonly socketPath: string;
  readonly logPath: string;
  readonly ip: string;
  readonly netns: string;
  readonly netnsPath: string;
  /**
   * The cgroup parent of the node's containers (its name is the namespace's): how their
   * processes are found to kill them when the node is killed, and swept by a later run.
   */
  readonly cgroupParent: string;
  readonly docker: Dockerode;
  /** The swarm's id of this node, once it is in the swarm. */
  nodeId: string | null = null;

  private readonly pidFile: string;
  private daemon: ChildProcess | null = null;
  /** How the daemon ended ("code 1", "signal SIGKILL", a spawn error); null while it runs. */
  private endedHow: string | null = null;
  /** Settles (never rejects) when the daemon has ended. */
  private ended: Promise<void> = Promise.resolve();

  constructor(options: SwarmNodeOptions) {
    this.index = options.index;
    this.base = options.base;
    this.dataRoot = join(this.base, 'data');
    this.execRoot = join(this.base, 'exec');
    this.socketPath = join(this.base, 'docker.sock');
    this.logPath = join(this.base, 'dockerd.log');
    this.pidFile = join(this.base, 'dockerd.pid');
    this.ip = options.ip;
    this.netns = options.netns;
    this.netnsPath = netnsPath(options.netns);
    this.cgroupParent = options.netns;
    this.docker = new Dockerode({ socketPath: this.socketPath });
  }

  /** Starts dockerd, waits until it answers, and loads the image archive if one is given. */
  async start(image?: ImageArchive): Promise<void> {
    await mkdir(this.dataRoot, { recursive: true });
    await mkdir(this.execRoot, { recursive: true });
    this.spawnDaemon();
    try {
      await this.waitUntilAnswering();
      if (image !== undefined) await this.loadImage(image);
    } catch (error) {
      throw this.withLogTail(error);
    }
  }

  /**
   * Starts dockerd again on the same data root after kill() (or stop()): it finds its swarm state
   * there and rejoins the swarm by itself. Resolves once the engine answers and its swarm side is
   * active again; the other managers see it `ready` a little later.
   */
  async restart(): Promise<void> {
    if (this.isRunning()) throw new Error(`node ${this.index}: dockerd is still running`);
    this.spawnDaemon();
    try {
      await this.waitUntilAnswering();
      if (this.nodeId !== null) await this.waitForSwarmState('active');
    } catch (error) {
      throw this.withLogTail(error);
    }
  }

  /**
   * Kills the node like a machine that was switched off: SIGKILL to dockerd, its containerd, the
   * shims, docker-proxies and the containers' processes at once, then unmounts what they left (as
   * a reboot would), so nothing of the node serves anything any more. The namespace and the data
   * root stay, for restart().
   */
  async kill(): Promise<void> {
    const daemonPid = this.isRunning() ? this.daemon?.pid : undefined;
    // A second round catches a runc or shim that was being started when the first one struck.
    for (let round = 0; round < 2; round += 1) {
      const pids = this.ownProcesses();
      if (daemonPid !== undefined && round === 0) pids.add(daemonPid);
      await endProcesses([...pids], 0);
    }
    await this.ended;
    await unmountUnder(this.base);
    await removeCgroups(this.cgroupParent);
  }

  /**
   * Removes the test's containers (MANAGED_LABEL), stops dockerd (SIGTERM, waits), stops what
   * outlived it, unmounts what it left under `base` and removes its cgroups. Runs every step even
   * when one fails; returns the problems, for the cluster's teardown to report with its own.
   */
  async stop(): Promise<string[]> {
    const problems: string[] = [];
    const step = async (what: string, action: () => Promise<void>) => {
      try {
        await action();
      } catch (error) {
        problems.push(`node ${this.index}: ${what}: ${messageOf(error)}`);
      }
    };
    await step('removing the test containers', () => this.removeManagedContainers());
    await step('stopping dockerd', () => this.stopDaemon());
    await step('stopping what outlived dockerd', async () => {
      const stray = [...this.ownProcesses()];
      if (stray.length === 0) return;
      await endProcesses(stray, 5_000);
      throw new Error(`${stray.length} process(es) outlived dockerd (pids ${stray.join(', ')})`);
    });
    // A clean shutdown unmounts what dockerd mounted (data root, overlays, the sandbox
    // namespaces under exec/netns); this is for what a dockerd that died left.
    await step('unmounting what the engine left', () => unmountUnder(this.base));
    await step('removing its cgroups', () => removeCgroups(this.cgroupParent));
    return problems;
  }

  isRunning(): boolean {
    return this.daemon !== null && this.endedHow === null;
  }

  /** The last lines of the engine's own log. */
  logTail(lines = LOG_TAIL_LINES): string {
    if (!existsSync(this.logPath)) return '(no log written)';
    return readFileSync(this.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Waits until the engine's own view of its swarm membership is `state` ('active', ...). */
  async waitForSwarmState(state: string, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    let last = '';
    await waitUntil(`node ${this.index} swarm state ${state}`, timeoutMs, async () => {
      const info = (await this.docker.info()) as { Swarm?: { LocalNodeState?: string } };
      last = info.Swarm?.LocalNodeState ?? '(none)';
      return last === state;
    }).catch((error: unknown) => {
      throw new Error(`${messageOf(error)}; last state: ${last}`);
    });
  }

  /** Records the swarm's id of this node (after swarm init or join). */
  async readNodeId(): Promise<string> {
    const info = (await this.docker.info()) as { Swarm?: { NodeID?: string } };
    const id = info.Swarm?.NodeID;
    if (id === undefined || id === '') throw new Error(`node ${this.index} is in no swarm`);
    this.nodeId = id;
    return id;
  }

  private spawnDaemon(): void {
    const config = join(this.base, 'daemon.json');
    writeFileSync(config, JSON.stringify({ 'cgroup-parent': `/${this.cgroupParent}` }, null, 2));
    const dockerd = [
      '--data-root',
      this.dataRoot,
      '--exec-root',
      this.execRoot,
      '--pidfile',
      this.pidFile,
      '-H',
      `unix://${this.socketPath}`,
      '--storage-driver=overlay2',
      '--config-file',
      config,
    ];
    const log = openSync(this.logPath, 'a');
    let child: ChildProcess;
    try {
      // nsenter execs dockerd (no --fork needed for a network namespace): the pid is dockerd's.
      child = spawn('nsenter', nsenterArgs(this.netns, 'dockerd', dockerd), {
        stdio: ['ignore', log, log],
      });
    } finally {
      closeSync(log); // the child holds its own descriptor
    }
    this.daemon = child;
    this.endedHow = null;
    this.ended = new Promise<void>((resolve) => {
      const end = (how: string) => {
        this.endedHow ??= how;
        resolve();
      };
      child.once('exit', (code, sig) => end(sig ? `signal ${sig}` : `code ${code}`));
      child.once('error', (error) => end(`spawn error: ${error.message}`));
    });
  }

  private async waitUntilAnswering(): Promise<void> {
    let lastError = '';
    await waitUntil(`node ${this.index}'s dockerd answering`, READY_TIMEOUT_MS, async () => {
      if (this.endedHow !== null) {
        throw new Error(`node ${this.index}'s dockerd ended (${this.endedHow}) before answering`);
      }
      try {
        await this.docker.ping();
        return true;
      } catch (error) {
        lastError = messageOf(error); // the socket is not there yet, or refuses
        return false;
      }
    }).catch((error: unknown) => {
      throw new Error(`${messageOf(error)} on ${this.socketPath} (${lastError})`);
    });
  }

  private async loadImage(image: ImageArchive): Promise<void> {
    const progress = await this.docker.loadImage(createReadStream(image.path));
    const messages = await new Promise<LoadMessage[]>((resolve, reject) => {
      this.docker.modem.followProgress(progress, (error, output: LoadMessage[]) =>
        error ? reject(error) : resolve(output),
      );
    });
    const failed = messages.find((m) => m.error !== undefined);
    if (failed !== undefined) throw new Error(`loading ${DEMO_IMAGE}: ${failed.error}`);
    const loaded = await this.docker.getImage(DEMO_IMAGE).inspect();
    if (loaded.Id !== image.id) {
      throw new Error(`node ${this.index} loaded ${DEMO_IMAGE} as ${loaded.Id}, not ${image.id}`);
    }
  }

  private async removeManagedContainers(): Promise<void> {
    if (!this.isRunning()) return;
    const containers = await this.docker.listContainers({
      all: true,
      filters: { label: [MANAGED_LABEL] },
    });
    await Promise.all(
      containers.map((c) => this.docker.getContainer(c.Id).remove({ force: true, v: true })),
    );
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
   * The node's processes but dockerd: those naming its exec root (containerd, the shims), the
   * docker-proxies in its namespace, and the processes of its containers (by cgroup). Relays and
   * services a test runs in the namespace are the cluster's, not the node's.
   */
  private ownProcesses(): Set<number> {
    const pids = new Set(
      pidsWhere(
        (cmdline) => cmdline.includes(`${this.execRoot}/`) || cmdline.includes(`${this.execRoot} `),
      ),
    );
    for (const pid of processesInNetns([this.netns])) {
      if (commOf(pid) === 'docker-proxy') pids.add(pid);
    }
    for (const pid of cgroupProcesses(this.cgroupParent)) pids.add(pid);
    return pids;
  }

  private withLogTail(error: unknown): Error {
    console.error(
      `node ${this.index}'s dockerd failed; ${this.logPath} ends with:\n${this.logTail()}`,
    );
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** `docker save` of the demo image from the host's engine into `path`, once for all nodes. */
export async function saveDemoImage(path: string): Promise<ImageArchive> {
  const host = testDocker();
  const { Id } = await host
    .getImage(DEMO_IMAGE)
    .inspect()
    .catch((error: unknown) => {
      const hint = 'scripts/build-demo-image.sh builds it';
      throw new Error(`the host's engine has no ${DEMO_IMAGE} (${hint}): ${messageOf(error)}`);
    });
  await pipeline(await host.getImage(DEMO_IMAGE).get(), createWriteStream(path));
  return { path, id: Id };
}

// --- host-level helpers, shared with the cluster's sweep of an earlier run's leftovers ---

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every 200 ms until it says true; rejects after `timeoutMs` or when it throws. */
export async function waitUntil(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await delay(200);
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

function readProc(pid: number, file: string): string | null {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return null; // gone
  }
}

function commOf(pid: number): string {
  return readProc(pid, 'comm')?.trim() ?? '';
}

/** Pids (not this process's) whose command line (NUL-separated args joined by spaces) matches. */
export function pidsWhere(match: (cmdline: string) => boolean): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => pid !== process.pid)
    .filter((pid) => {
      const cmdline = readProc(pid, 'cmdline');
      return cmdline !== null && cmdline !== '' && match(cmdline.split('\0').join(' '));
    });
}

/** Alive and not a zombie (a zombie holds nothing but its pid; its parent reaps it). */
export function isAlive(pid: number): boolean {
  const stat = readProc(pid, 'stat');
  if (stat === null) return false;
  // `pid (comm) S ...`: the state follows the last parenthesis (comm may contain some).
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // gone meanwhile
  }
}

export async function waitUntilGone(pids: readonly number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isAlive)) {
    if (Date.now() > deadline) {
      throw new Error(`pids ${pids.filter(isAlive).join(', ')} still alive after ${timeoutMs} ms`);
    }
    await delay(50);
  }
}

/**
 * Ends the processes: SIGTERM and up to `graceMs` to go (none when 0), then SIGKILL. Waits until
 * they are gone, then removes the socket files of the containerd shims among them, which a killed
 * shim leaves in the host-wide /run/containerd/s.
 */
export async function endProcesses(pids: readonly number[], graceMs: number): Promise<void> {
  const shimSockets = pids.map(shimSocketOf).filter((path) => path !== null);
  if (graceMs > 0) {
    for (const pid of pids) signal(pid, 'SIGTERM');
    await waitUntilGone(pids, graceMs).catch(() => {}); // those left get SIGKILL
  }
  for (const pid of pids.filter(isAlive)) signal(pid, 'SIGKILL');
  await waitUntilGone(pids, 10_000);
  for (const path of shimSockets) rmSync(path, { force: true });
}

/**
 * The socket a containerd-shim (runc v2) serves on: containerd names it
 * /run/containerd/s/sha256(<containerd address>/<namespace>/<container id>) (checked against the
 * files containerd 1.6 makes), whichever containerd started it. Null for another process.
 */
function shimSocketOf(pid: number): string | null {
  const args = readProc(pid, 'cmdline')?.split('\0') ?? [];
  if (!basename(args[0] ?? '').startsWith('containerd-shim')) return null;
  const value = (flag: string) => {
    const at = args.indexOf(flag);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const [namespace, id, address] = [value('-namespace'), value('-id'), value('-address')];
  if (namespace === undefined || id === undefined || address === undefined) return null;
  const hash = createHash('sha256').update(`${address}/${namespace}/${id}`).digest('hex');
  return `/run/containerd/s/${hash}`;
}

/** Mount points at or under `path`, in mount order (the second engine's reading of the table). */
export const mountsUnder = (path: string): string[] => SecondEngine.mountsUnder(path);

/**
 * Unmounts everything at or under `path`, the latest first (a mount can sit on another, or on the
 * same point twice). A lazy unmount is the fallback for one still busy.
 */
export async function unmountUnder(path: string): Promise<void> {
  for (let pass = 0; pass < 5; pass += 1) {
    const mounts = mountsUnder(path);
    if (mounts.length === 0) return;
    for (const target of mounts.reverse()) {
      await run('umount', [target]).catch(() => run('umount', ['-l', target]).catch(() => {}));
    }
  }
  const left = mountsUnder(path);
  if (left.length > 0) throw new Error(`still mounted: ${left.join(', ')}`);
}

/** The cgroup folders named `name` at the top of each hierarchy (v1 controllers, or v2). */
function cgroupRoots(name: string): string[] {
  const top = '/sys/fs/cgroup';
  const hierarchies = [top, ...readdirSync(top).map((entry) => join(top, entry))];
  return hierarchies.map((dir) => join(dir, name)).filter((dir) => existsSync(dir));
}

function cgroupTree(dir: string): string[] {
  const children = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => cgroupTree(join(dir, entry.name)));
  return [...children, dir]; // deepest first, for rmdir
}

/** Pids in the cgroup `name` or below, in any hierarchy. */
export function cgroupProcesses(name: string): number[] {
  const pids = new Set<number>();
  for (const root of cgroupRoots(name)) {
    for (const dir of cgroupTree(root)) {
      const procs = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n');
      for (const pid of procs.filter((line) => line !== '')) pids.add(Number(pid));
    }
  }
  return [...pids];
}

/**
 * Removes the cgroup `name` and what is below it, in every hierarchy, once their processes are
 * gone. The kernel can keep a cgroup busy (EBUSY) for a moment after its last process died.
 */
export async function removeCgroups(name: string): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      for (const root of cgroupRoots(name)) {
        for (const dir of cgroupTree(root)) rmdirSync(dir);
      }
      return;
    } catch (error) {
      if (attempt >= 20) throw error;
      await delay(100);
    }
  }
}
