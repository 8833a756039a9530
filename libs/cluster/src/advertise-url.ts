import { networkInterfaces } from 'node:os';

/**
 * Where the other instances reach this one when CLUSTER_ADVERTISE_URL is not set: the first
 * non-internal IPv4 address of this host (in a Swarm service: its address on the stack's
 * network) with the API's port. A host with several such addresses should set the variable.
 */
export function defaultAdvertiseUrl(port: number): string {
  return `http://${firstExternalIPv4() ?? '127.0.0.1'}:${port}`;
}

/** The advertised API URL with another port (the E2B listener's, on the same host). */
export function withPort(url: string, port: number): string {
  const parsed = new URL(url);
  parsed.port = String(port);
  return parsed.origin;
}

function firstExternalIPv4(): string | null {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address;
    }
  }
  return null;
}
