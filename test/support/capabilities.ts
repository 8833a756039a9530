import { LINUX_CAPABILITIES } from '@app/config';

/**
 * The capability names a `CapEff:` (or CapPrm, CapBnd) mask of /proc/<pid>/status holds: bit n is
 * the n-th capability of the kernel's list.
 */
export function decodeCapabilities(hexMask: string): string[] {
  const mask = BigInt(`0x${hexMask.trim()}`);
  return LINUX_CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

/** The effective set from the text of /proc/self/status, decoded. */
export function effectiveCapabilities(status: string): string[] {
  const line = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  if (line === null) throw new Error(`no CapEff line in:\n${status}`);
  return decodeCapabilities(line[1]);
}
