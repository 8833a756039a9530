import { networkInterfaces } from 'node:os';

/**
 * Where the other instances reach this one when CLUSTER_ADVERTISE_URL is not set: this host's
 * IPv4 address in `subnet` (CLUSTER_ADVERTISE_SUBNET: in a Swarm stack, the stack network's), else
 * its first non-loopback IPv4 address, with the API's port.
 */
export function defaultAdvertiseUrl(port: number, subnet: string | null): string {
  const addresses = Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((address) => address.family === 'IPv4' && !address.internal)
    .map((address) => address.address);
  const chosen =
    subnet === null ? addresses[0] : addresses.find((address) => inSubnet(address, subnet));
  if (chosen === undefined && subnet !== null) {
    throw new Error(
      `CLUSTER_ADVERTISE_SUBNET ${subnet}: this host has no address in it (${addresses.join(', ') || 'none'})`,
    );
  }
  return `http://${chosen ?? '127.0.0.1'}:${port}`;
}

/** The advertised API URL with another port (the E2B listener's, on the same host). */
export function withPort(url: string, port: number): string {
  const parsed = new URL(url);
  parsed.port = String(port);
  return parsed.origin;
}

export function inSubnet(address: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const prefix = Number(bits);
  if (!(prefix >= 0 && prefix <= 32)) return false;
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  return (toNumber(address) & mask) >>> 0 === (toNumber(base) & mask) >>> 0;
}

function toNumber(address: string): number {
  return address.split('.').reduce((n, part) => ((n << 8) + Number(part)) >>> 0, 0);
}
