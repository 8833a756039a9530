import { CodedError } from '@app/domain';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Which registries an image may be pulled from. dockerd pulls as root from the host's network, so
 * an image naming `127.0.0.1:6379/x` or `10.0.0.5:80/x` would make it a port scanner (and, before
 * engine text was kept out of answers, a reflector) for any API user. By default registries on
 * loopback, link-local, private, shared-address and other non-public addresses are refused, both
 * as literal addresses and as host names resolving to one; REGISTRY_ALLOWLIST lets an operator
 * allow some (host, host:port, a CIDR, or `*`). Node's own BlockList does the address matching, so
 * no dependency is needed. A name is resolved here and again by dockerd: DNS answering differently
 * the second time (rebinding) is outside what this check can see; a firewall for dockerd is the
 * complete answer and the README says so.
 */

const NON_PUBLIC_V4: readonly [string, number][] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];
const NON_PUBLIC_V6: readonly [string, number][] = [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b:1::', 48],
];

const LOOKUP_TIMEOUT_MS = 2_000;

function nonPublic(): BlockList {
  const list = new BlockList();
  for (const [net, prefix] of NON_PUBLIC_V4) list.addSubnet(net, prefix, 'ipv4');
  for (const [net, prefix] of NON_PUBLIC_V6) list.addSubnet(net, prefix, 'ipv6');
  return list;
}

/**
 * The registry host (with port, if any) an image reference pulls from, or null for Docker Hub.
 * Docker's rule: the first path component is a registry when it has a dot or a colon, or is
 * `localhost`.
 */
export function registryOf(image: string): string | null {
  const slash = image.indexOf('/');
  if (slash < 0) return null;
  const first = image.slice(0, slash);
  if (first.includes('.') || first.includes(':') || first === 'localhost') {
    return first.toLowerCase();
  }
  return null;
}

/** `host` of `host`, `host:port`, `[v6]` or `[v6]:port`. */
export function hostOf(registry: string): string {
  if (registry.startsWith('[')) {
    const end = registry.indexOf(']');
    return end > 0 ? registry.slice(1, end) : registry;
  }
  const colon = registry.lastIndexOf(':');
  return colon >= 0 ? registry.slice(0, colon) : registry;
}

/** An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is its IPv4 address for these checks. */
function normalise(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return { address: mapped[1], family: 'ipv4' };
  return { address, family: isIP(address) === 6 ? 'ipv6' : 'ipv4' };
}

export type Resolver = (host: string) => Promise<string[]>;

const systemResolver: Resolver = async (host) => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('lookup timed out')), LOOKUP_TIMEOUT_MS);
  });
  try {
    const found = await Promise.race([lookup(host, { all: true }), timeout]);
    return found.map((entry) => entry.address);
  } finally {
    clearTimeout(timer);
  }
};

export class RegistryPolicy {
  private readonly blocked = nonPublic();
  private readonly allowedNets = new BlockList();
  private readonly allowedNames = new Set<string>();
  private readonly allowAll: boolean;

  /** @param allowlist REGISTRY_ALLOWLIST entries: `*`, a CIDR, a host or a host:port. */
  constructor(
    allowlist: readonly string[],
    private readonly resolve: Resolver = systemResolver,
  ) {
    this.allowAll = allowlist.includes('*');
    for (const entry of allowlist) {
      const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
      if (cidr && isIP(cidr[1]) !== 0) {
        const { address, family } = normalise(cidr[1]);
        this.allowedNets.addSubnet(address, Number(cidr[2]), family);
      } else if (isIP(entry) !== 0) {
        const { address, family } = normalise(entry);
        this.allowedNets.addAddress(address, family);
      } else {
        this.allowedNames.add(entry.toLowerCase());
      }
    }
  }

  /**
   * Throws REGISTRY_NOT_ALLOWED when `image` names a registry on a non-public address the
   * allowlist does not cover. Docker Hub (no registry in the reference) is always allowed. A host
   * name that does not resolve here is left to the pull, which fails on its own.
   */
  async check(image: string): Promise<void> {
    const registry = registryOf(image);
    if (registry === null || this.allowAll) return;
    const host = hostOf(registry);
    if (this.allowedNames.has(registry) || this.allowedNames.has(host)) return;
    const addresses = isIP(host) !== 0 ? [host] : await this.resolve(host).catch(() => []);
    const refused = addresses.find((address) => this.isRefused(address));
    if (refused === undefined) return;
    throw new CodedError(
      'REGISTRY_NOT_ALLOWED',
      `image ${image} names registry ${registry}, which is on a loopback, link-local or private address; ` +
        'sandboxd does not pull from such registries unless REGISTRY_ALLOWLIST allows them',
      { image, registry },
    );
  }

  private isRefused(raw: string): boolean {
    const { address, family } = normalise(raw);
    return this.blocked.check(address, family) && !this.allowedNets.check(address, family);
  }
}
