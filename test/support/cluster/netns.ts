import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { promisify } from 'node:util';

/**
 * The cluster's network: named network namespaces (`ip netns add`, so they outlive any process
 * and a later run can find and wipe them by name), one hub holding a bridge, one per node wired
 * to it by a veth pair. The bridge sits in the hub namespace, not in the host's, so the host
 * namespace gets no address on the test network and nothing of it reaches the host's own
 * interfaces, routes or firewall. Every name starts with `sbxc-`: that prefix is how leftovers
 * are recognised.
 */

const run = promisify(execFile);

export const NETNS_PREFIX = 'sbxc-';
export const HUB_NETNS = `${NETNS_PREFIX}hub`;
export const HUB_BRIDGE = 'br0';
export const HUB_IP = '10.213.0.1';
const PREFIX_LENGTH = 24;

export function nodeNetnsName(index: number): string {
  return `${NETNS_PREFIX}node${index}`;
}

/** Node i is 10.213.0.(10+i). */
export function nodeIp(index: number): string {
  return `10.213.0.${10 + index}`;
}

/** The bind-mounted namespace file `ip netns add` makes; what `nsenter --net=` takes. */
export function netnsPath(name: string): string {
  return `/run/netns/${name}`;
}

/**
 * argv (after the `nsenter` binary) that runs `command` in the namespace. Only the network
 * namespace is entered: `ip netns exec` would also remount /sys for the namespace, which hides
 * the cgroup mounts under /sys/fs/cgroup that dockerd and runc need.
 */
export function nsenterArgs(name: string, command: string, args: readonly string[]): string[] {
  return [`--net=${netnsPath(name)}`, command, ...args];
}

async function ip(args: readonly string[]): Promise<void> {
  try {
    await run('ip', args, { timeout: 10_000 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`ip ${args.join(' ')} failed: ${stderr || String(error)}`);
  }
}

/** The `sbxc-` namespaces that exist now (this run's or an earlier one's). */
export async function listClusterNetns(): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list'], { timeout: 10_000 });
  // Lines look like `sbxc-node0 (id: 3)` or just `sbxc-hub`.
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name.startsWith(NETNS_PREFIX));
}

export async function createNetns(name: string): Promise<void> {
  if (!name.startsWith(NETNS_PREFIX)) throw new Error(`${name} lacks the ${NETNS_PREFIX} prefix`);
  await ip(['netns', 'add', name]);
  // A new namespace has lo down; the relays listen on its 127.0.0.1.
  await ip(['-n', name, 'link', 'set', 'lo', 'up']);
}

/** Deletes the namespace; its interfaces go with it (a veth takes its peer along). */
export async function deleteNetns(name: string): Promise<void> {
  await ip(['netns', 'del', name]);
}

/** The hub namespace with the bridge every node's veth is enslaved to. */
export async function createHub(): Promise<void> {
  await createNetns(HUB_NETNS);
  await ip(['-n', HUB_NETNS, 'link', 'add', HUB_BRIDGE, 'type', 'bridge']);
  await ip(['-n', HUB_NETNS, 'addr', 'add', `${HUB_IP}/${PREFIX_LENGTH}`, 'dev', HUB_BRIDGE]);
  await ip(['-n', HUB_NETNS, 'link', 'set', HUB_BRIDGE, 'up']);
}

/**
 * Node i's namespace, wired to the hub: `veth<i>` in the hub's bridge, `eth0` with
 * 10.213.0.(10+i)/24 in the node. No default route: the nodes only talk to each other, and the
 * services of the host are reached through the relays on the node's 127.0.0.1.
 */
export async function createNodeNetns(index: number): Promise<string> {
  const name = nodeNetnsName(index);
  const hubEnd = `veth${index}`;
  await createNetns(name);
  // The peer is made right in the node's namespace, so nodes can be wired at the same time.
  await ip([
    '-n',
    HUB_NETNS,
    'link',
    'add',
    hubEnd,
    'type',
    'veth',
    'peer',
    'name',
    'eth0',
    'netns',
    name,
  ]);
  await ip(['-n', HUB_NETNS, 'link', 'set', hubEnd, 'master', HUB_BRIDGE, 'up']);
  await ip(['-n', name, 'addr', 'add', `${nodeIp(index)}/${PREFIX_LENGTH}`, 'dev', 'eth0']);
  await ip(['-n', name, 'link', 'set', 'eth0', 'up']);
  return name;
}

/** `dev:inode` of a namespace file, which names the namespace itself. */
function namespaceKey(path: string): string | null {
  try {
    const stat = statSync(path);
    return `${stat.dev}:${stat.ino}`;
  } catch {
    return null; // gone, or a process we may not look into
  }
}

/**
 * Pids of the processes living in any of these namespaces: whatever ran in a node (dockerd, its
 * containerd and shims, docker-proxy, relays, services a test spawned), whoever started it and
 * whatever its command line. Containers are not among them: they have namespaces of their own.
 */
export function processesInNetns(names: readonly string[]): number[] {
  const keys = new Set(
    names.map((name) => namespaceKey(netnsPath(name))).filter((key) => key !== null),
  );
  if (keys.size === 0) return [];
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => pid !== process.pid)
    .filter((pid) => {
      const key = namespaceKey(`/proc/${pid}/ns/net`);
      return key !== null && keys.has(key);
    });
}
