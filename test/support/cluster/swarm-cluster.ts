import { ChildProcess, spawn, spawnSync, StdioOptions } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { connect, createServer, Server, Socket } from 'node:net';
import { basename, join } from 'node:path';
import { pipeBoth } from './relay';
import {
  createHub,
  createNodeNetns,
  deleteNetns,
  listClusterNetns,
  NETNS_PREFIX,
  nodeIp,
  nodeNetnsName,
  nsenterArgs,
  processesInNetns,
} from './netns';
import {
  cgroupProcesses,
  delay,
  endProcesses,
  isAlive,
  messageOf,
  mountsUnder,
  pidsWhere,
  removeCgroups,
  saveDemoImage,
  SwarmNode,
  unmountUnder,
  waitUntil,
} from './swarm-node';

/**
 * A real Docker Swarm of several engines on this one machine, for tests of what the service does
 * across machines (a node that dies, work on another node). Each node is a dockerd in a network
 * namespace of its own (see netns.ts), all managers, so any node can read the node list and one
 * can die while the others keep quorum. The host's network namespace gets no address on the
 * cluster network: PostgreSQL and Redis of the host's 127.0.0.1 are relayed into every node's
 * 127.0.0.1 through unix sockets, and a node's HTTP service is relayed out to the host's
 * 127.0.0.1 the same way. Names, addresses and the base folder are fixed, so there is one
 * cluster per machine, and start() first wipes whatever an earlier (crashed) run left.
 *
 * Measured on a 2-core VM: start() with 3 nodes takes 2-3 s; a killed node is `down` 3-6.5 s
 * later (with the 2 s heartbeat set below; 14 s with swarm's default of 5 s); a restarted one is
 * `ready` again 3-5 s after restart() began; stop() takes ~3 s.
 */

export const DEFAULT_BASE = '/tmp/sbxc';
const SWARM_PORT = 2377;
const POSTGRES = { host: '127.0.0.1', port: 5432 };
const REDIS = { host: '127.0.0.1', port: 6379 };
/** Swarm declares a node down after ~3 missed heartbeats; the default period of 5 s is slow. */
const HEARTBEAT_PERIOD_NS = 2_000_000_000;
/** Overlay networks' subnets, away from the cluster network 10.213.0.0/24 (default 10.0.0.0/8). */
const OVERLAY_POOL = '10.214.0.0/16';
const RELAY_SCRIPT = join(__dirname, 'relay.js');
const RELAY_READY_TIMEOUT_MS = 10_000;
const NODES_READY_TIMEOUT_MS = 60_000;

export interface SwarmClusterOptions {
  /** How many nodes (managers all); 3 unless told. */
  nodes?: number;
  /** The folder holding everything of the cluster; wiped first. Default /tmp/sbxc. */
  base?: string;
}

/** What the swarm says of one node (the part of `GET /nodes` the harness reads). */
export interface SwarmNodeInfo {
  ID: string;
  Spec: { Role: string; Availability: string };
  Status: { State: string; Addr?: string };
  ManagerStatus?: { Leader?: boolean; Reachability: string; Addr: string };
}

type Endpoint = { path: string } | { host: string; port: number };

/** Why a cluster cannot be made here, or null when it can. Side-effect free. */
export function clusterUnavailableReason(): string | null {
  if (process.getuid?.() !== 0) return 'not root: network namespaces and dockerd need root';
  const dockerd = spawnSync('dockerd', ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (dockerd.error !== undefined || dockerd.status !== 0) {
    const why = dockerd.error?.message ?? (dockerd.stderr.trim() || `exit ${dockerd.status}`);
    return `no usable dockerd binary (${why})`;
  }
  for (const tool of ['nsenter', 'ip', 'umount', 'containerd']) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
    if (found.status !== 0) return `no ${tool} binary`;
  }
  if (spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' }).status !== 0) {
    return '`ip netns` does not work here (no network namespace support?)';
  }
  const overlay = /\boverlay\b/.test(readFileSync('/proc/filesystems', 'utf8'));
  if (!overlay && spawnSync('modinfo', ['overlay'], { stdio: 'ignore' }).status !== 0) {
    return 'the kernel has no overlay file system: overlay2 cannot run';
  }
  if (!existsSync('/sys/fs/cgroup')) return 'no /sys/fs/cgroup: dockerd cannot run containers';
  const hostSocket = process.env.DOCKER_SOCKET_PATH || '/var/run/docker.sock';
  if (!existsSync(hostSocket)) return `no host engine at ${hostSocket} to take the demo image from`;
  return null;
}

export class SwarmCluster {
  readonly nodes: SwarmNode[];
  readonly relayDir: string;

  /** In-namespace relays and the services tests spawned: stopped (by process group) at stop(). */
  private readonly children: ChildProcess[] = [];
  /** The test process's own ends of the relays, and their open connections. */
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  /** What exposeHttp made, by `<node index>:<port>`. */
  private readonly exposed = new Map<string, { port: number; url: string }>();
  private stopping: Promise<void> | null = null;

  private constructor(
    readonly base: string,
    nodeCount: number,
  ) {
    this.relayDir = join(base, 'relay');
    this.nodes = Array.from(
      { length: nodeCount },
      (_, index) =>
        new SwarmNode({
          index,
          base: join(base, `node${index}`),
          netns: nodeNetnsName(index),
          ip: nodeIp(index),
        }),
    );
  }

  /** Wipes an earlier run's leftovers, then builds the cluster; on failure, tears it down. */
  static async start(options: SwarmClusterOptions = {}): Promise<SwarmCluster> {
    const cluster = new SwarmCluster(options.base ?? DEFAULT_BASE, options.nodes ?? 3);
    const found = await sweep(cluster.base);
    if (found.length > 0) console.warn(`removed what an earlier cluster left: ${found.join('; ')}`);
    try {
      await cluster.build();
      return cluster;
    } catch (error) {
      await cluster.stop().catch((teardown: unknown) => console.error(messageOf(teardown)));
      throw error;
    }
  }

  node(index: number): SwarmNode {
    const node = this.nodes[index];
    if (node === undefined) throw new Error(`no node ${index} (${this.nodes.length} nodes)`);
    return node;
  }

  /** The swarm's node list as `observer` (a running manager) sees it. */
  async listNodes(observer = 0): Promise<SwarmNodeInfo[]> {
    return (await this.node(observer).docker.listNodes()) as SwarmNodeInfo[];
  }

  /**
   * Waits until the swarm says node `index` is `state` ('ready', 'down'), as seen by `observer`
   * (default: the first other node whose engine runs). Resolves with the milliseconds it took.
   */
  async waitForNodeState(
    index: number,
    state: string,
    {
      timeoutMs = NODES_READY_TIMEOUT_MS,
      observer,
    }: { timeoutMs?: number; observer?: number } = {},
  ): Promise<number> {
    const nodeId = this.node(index).nodeId;
    if (nodeId === null) throw new Error(`node ${index} never joined the swarm`);
    const seer =
      observer ?? this.nodes.find((n) => n.index !== index && n.isRunning())?.index ?? index;
    let last = '';
    return waitUntil(`node ${index} ${state} (seen by node ${seer})`, timeoutMs, async () => {
      const info = (await this.listNodes(seer)).find((n) => n.ID === nodeId);
      last = info?.Status.State ?? '(not listed)';
      return last === state;
    }).catch((error: unknown) => {
      throw new Error(`${messageOf(error)}; last state: ${last}`);
    });
  }

  /**
   * Makes a service listening on 0.0.0.0:`port` (or 127.0.0.1) inside node `index`'s namespace
   * callable at the returned http://127.0.0.1:<free port>. Its relay socket is
   * `relay/api-<index>-<port>.sock`; asking again for the same port returns the same URL.
   */
  async exposeHttp(index: number, port: number): Promise<string> {
    const key = `${index}:${port}`;
    const known = this.exposed.get(key);
    if (known !== undefined) return known.url;
    const socket = join(this.relayDir, `api-${index}-${port}.sock`);
    await this.startRelay(index, [`${socket}=127.0.0.1:${port}`]);
    const server = await this.forward({ host: '127.0.0.1', port: 0 }, { path: socket });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    const url = `http://127.0.0.1:${address.port}`;
    this.exposed.set(key, { port, url });
    return url;
  }

  /**
   * Runs `command` inside node `index`'s network namespace (nsenter, so it sees the host's file
   * system and /sys), with the test's environment plus `env`, in a process group of its own that
   * stop() ends. stdout and stderr are pipes unless told: read them (or pass 'ignore'), since a
   * child writing into a full unread pipe blocks.
   */
  spawnInNode(
    index: number,
    command: string,
    args: readonly string[] = [],
    env: Record<string, string> = {},
    stdio: StdioOptions = ['ignore', 'pipe', 'pipe'],
  ): ChildProcess {
    const child = spawn('nsenter', nsenterArgs(this.node(index).netns, command, args), {
      env: { ...process.env, ...env },
      stdio,
      detached: true,
    });
    this.children.push(child);
    return child;
  }

  /**
   * Ends every process it started, stops every engine, removes the namespaces, its servers and
   * the base folder. Runs every step even when one fails and throws one error listing the
   * problems at the end. Calling it again (or concurrently) is harmless.
   */
  stop(): Promise<void> {
    this.stopping ??= this.teardown().finally(() => {
      this.stopping = null;
    });
    return this.stopping;
  }

  private async build(): Promise<void> {
    await mkdir(this.relayDir, { recursive: true });
    const [image] = await Promise.all([
      saveDemoImage(join(this.base, 'demo-image.tar')),
      this.buildNetwork(),
    ]);
    // The test process's ends of the PostgreSQL and Redis relays, before any node relay uses them.
    await this.forward({ path: join(this.relayDir, 'pg.sock') }, POSTGRES);
    await this.forward({ path: join(this.relayDir, 'redis.sock') }, REDIS);
    await Promise.all([
      ...this.nodes.map((node) => node.start(image)),
      ...this.nodes.map((node) =>
        this.startRelay(node.index, [
          `${POSTGRES.host}:${POSTGRES.port}=${join(this.relayDir, 'pg.sock')}`,
          `${REDIS.host}:${REDIS.port}=${join(this.relayDir, 'redis.sock')}`,
        ]),
      ),
    ]);
    await this.formSwarm();
  }

  private async buildNetwork(): Promise<void> {
    await createHub();
    await Promise.all(this.nodes.map((node) => createNodeNetns(node.index)));
  }

  /**
   * swarm init on node 0, then the others join as managers, one after the other (raft takes one
   * membership change at a time). Without IPVS in the kernel, swarm init still succeeds and makes
   * the `ingress` network; dockerd only logs errors reading net.ipv4.vs.* sysctls, "Native
   * loadbalancing will not work", and one about the default VLAN of an overlay bridge (it looks
   * the bridge up in /sys, which nsenter leaves showing the host's interfaces). Tasks of services
   * in either endpoint mode run, and overlay networks work across nodes (VXLAN); what needs IPVS
   * is load balancing: a service's VIP and the routing mesh of published ports. Tests should
   * reach services by task (endpoint mode `dnsrr`, `tasks.<name>`), not by VIP or ingress port.
   */
  private async formSwarm(): Promise<void> {
    const [first, ...others] = this.nodes;
    if (first === undefined) throw new Error('a cluster needs at least one node');
    await first.docker.swarmInit({
      ListenAddr: `${first.ip}:${SWARM_PORT}`,
      AdvertiseAddr: first.ip,
      DefaultAddrPool: [OVERLAY_POOL],
      SubnetSize: 24,
      Spec: { Dispatcher: { HeartbeatPeriod: HEARTBEAT_PERIOD_NS } },
    });
    await first.readNodeId();
    const swarm = (await first.docker.swarmInspect()) as { JoinTokens: { Manager: string } };
    for (const node of others) {
      await node.docker.swarmJoin({
        ListenAddr: `${node.ip}:${SWARM_PORT}`,
        AdvertiseAddr: node.ip,
        RemoteAddrs: [`${first.ip}:${SWARM_PORT}`],
        JoinToken: swarm.JoinTokens.Manager,
      });
      await node.readNodeId();
    }
    let last = '';
    await waitUntil('every node ready and reachable', NODES_READY_TIMEOUT_MS, async () => {
      const listed = await this.listNodes(0);
      last = listed.map((n) => `${n.ID}:${n.Status.State}/${n.ManagerStatus?.Reachability}`).join();
      return (
        listed.length === this.nodes.length &&
        listed.every(
          (n) => n.Status.State === 'ready' && n.ManagerStatus?.Reachability === 'reachable',
        )
      );
    }).catch((error: unknown) => {
      throw new Error(`${messageOf(error)}; last: ${last}`);
    });
  }

  /** Starts relay.js in node `index`'s namespace; resolves once it prints `ready`. */
  private async startRelay(index: number, specs: readonly string[]): Promise<void> {
    const relay = this.spawnInNode(index, process.execPath, [RELAY_SCRIPT, ...specs]);
    let stderr = '';
    relay.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`relay in node ${index} not ready in ${RELAY_READY_TIMEOUT_MS} ms`)),
        RELAY_READY_TIMEOUT_MS,
      );
      relay.stdout?.on('data', (chunk: Buffer) => {
        if (!chunk.toString('utf8').includes('ready')) return;
        clearTimeout(timer);
        resolve();
      });
      relay.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`relay in node ${index} ended (${sig ?? code}): ${stderr.trim()}`));
      });
    });
  }

  /**
   * A server in the test process relaying `listen` to `target` (what relay.js does in a
   * namespace, and with the same close handling).
   */
  private async forward(listen: Endpoint, target: Endpoint): Promise<Server> {
    const server = createServer((client) => {
      const upstream = connect(target);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.once('close', () => this.sockets.delete(socket));
      }
      pipeBoth(client, upstream);
    });
    this.servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if ('path' in listen) server.listen(listen.path, resolve);
      else server.listen(listen.port, listen.host, resolve);
    });
    return server;
  }

  private async teardown(): Promise<void> {
    const problems: string[] = [];
    const step = async (what: string, action: () => Promise<void>) => {
      try {
        await action();
      } catch (error) {
        problems.push(`${what}: ${messageOf(error)}`);
      }
    };
    await step('ending spawned processes and relays', () =>
      Promise.all(this.children.splice(0).map(endGroup)).then(() => undefined),
    );
    const nodeProblems = await Promise.all(this.nodes.map((node) => node.stop()));
    problems.push(...nodeProblems.flat());
    await step('closing the relay servers', () => this.closeServers());
    await step('sweeping what was left', async () => {
      const left = await sweep(this.base);
      // The namespaces are expected to be there still (and the nodes reported their own
      // leftovers); a process or a mount found now outlived whoever should have ended it.
      const unexpected = left.filter((what) => /^(process|mounts) /.test(what));
      if (unexpected.length > 0) throw new Error(unexpected.join('; '));
    });
    this.exposed.clear();
    if (problems.length > 0) {
      throw new Error(`the cluster's teardown had problems:\n- ${problems.join('\n- ')}`);
    }
  }

  private async closeServers(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(
      this.servers
        .splice(0)
        .map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    );
  }
}

/** Ends a detached child and its process group: SIGTERM, SIGKILL after 5 s. */
async function endGroup(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return; // never started
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // the group is gone
    }
  };
  signalGroup('SIGTERM');
  const timer = setTimeout(() => signalGroup('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
  // Its own children (same group) may outlive it by a moment, or ignore SIGTERM.
  await delay(0);
  signalGroup('SIGKILL');
}

/** A process of the harness's kinds (engines, relays) whose command line names the base. */
function isHarnessProcess(cmdline: string, base: string): boolean {
  if (!cmdline.includes(`${base}/`)) return false;
  const [program = '', script = ''] = cmdline.split(' ');
  const name = basename(program);
  return (
    /^(dockerd|containerd|containerd-shim.*|docker-proxy|runc)$/.test(name) ||
    basename(script) === 'relay.js'
  );
}

/** Top-level cgroups named like the nodes' cgroup parents (`sbxc-node<i>`), in any hierarchy. */
function clusterCgroups(): string[] {
  const top = '/sys/fs/cgroup';
  const names = new Set<string>();
  for (const dir of [top, ...readdirSync(top).map((entry) => join(top, entry))]) {
    try {
      for (const entry of readdirSync(dir)) if (entry.startsWith(NETNS_PREFIX)) names.add(entry);
    } catch {
      // a file, not a hierarchy
    }
  }
  return [...names];
}

/**
 * Removes everything of a cluster on this machine, whoever made it: kills the processes living in
 * `sbxc-` namespaces, the harness's processes naming `base` and the processes of the nodes'
 * containers, unmounts what is under `base`, deletes the namespaces, the nodes' cgroups and
 * `base`. Returns what it found ("namespace sbxc-hub", "process 123 (dockerd)", ...).
 */
async function sweep(base: string): Promise<string[]> {
  const found: string[] = [];
  const namespaces = await listClusterNetns();
  const cgroups = clusterCgroups();
  const pids = new Set([
    ...processesInNetns(namespaces),
    ...pidsWhere((cmdline) => isHarnessProcess(cmdline, base)),
    ...cgroups.flatMap(cgroupProcesses),
  ]);
  const alive = [...pids].filter(isAlive);
  for (const pid of alive) {
    const comm = existsSync(`/proc/${pid}/comm`) ? readFileSync(`/proc/${pid}/comm`, 'utf8') : '';
    found.push(`process ${pid} (${comm.trim()})`);
  }
  await endProcesses(alive, 0);
  const mounts = mountsUnder(base);
  if (mounts.length > 0) found.push(`mounts ${mounts.join(', ')}`);
  await unmountUnder(base);
  // A veth goes with either namespace of its pair, so the order does not matter.
  for (const name of namespaces) {
    found.push(`namespace ${name}`);
    await deleteNetns(name);
  }
  for (const name of cgroups) {
    found.push(`cgroup ${name}`);
    await removeCgroups(name);
  }
  await rm(base, { recursive: true, force: true });
  return found;
}
