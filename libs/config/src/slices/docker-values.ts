/** Parsers of the Docker slice's structured variables; each throws naming the variable. */

export function parsePortRange(text: string): { from: number; to: number } {
  if (!/^\d{1,5}-\d{1,5}$/.test(text)) {
    throw new Error('Invalid environment: PORT_RANGE must look like 30000-39999');
  }
  const [from, to] = text.split('-').map(Number);
  if (!(from >= 1 && to <= 65535 && from <= to)) {
    throw new Error(`Invalid environment: PORT_RANGE ${text} must be 1-65535 with from <= to`);
  }
  return { from, to };
}

/** Accepts a JSON array (`["sleep","infinity"]`) or a plain space-separated command line. */
export function parseArgv(text: string): string[] {
  if (text.trim().startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    if (Array.isArray(parsed) && parsed.length > 0 && parsed.every((a) => typeof a === 'string')) {
      return parsed;
    }
    throw new Error('Invalid environment: KEEPALIVE_COMMAND must be a non-empty JSON string array');
  }
  return text.trim().split(/\s+/);
}

/** The host name as a label value: what INSTANCE_ID accepts, never empty. */
export function sanitizeInstanceId(name: string): string {
  return name.replace(/[^a-zA-Z0-9_.-]/g, '-').slice(0, 63) || 'sandboxd';
}

/**
 * Every Linux capability by the name Docker takes (without `CAP_`), in the kernel's order (bit 0
 * is CHOWN). SANDBOX_CAP_ADD is checked against it so a typo stops the start, not every create.
 */
export const LINUX_CAPABILITIES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_PACCT',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_NICE',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'MKNOD',
  'LEASE',
  'AUDIT_WRITE',
  'AUDIT_CONTROL',
  'SETFCAP',
  'MAC_OVERRIDE',
  'MAC_ADMIN',
  'SYSLOG',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'AUDIT_READ',
  'PERFMON',
  'BPF',
  'CHECKPOINT_RESTORE',
] as const;
export type LinuxCapability = (typeof LINUX_CAPABILITIES)[number];

/**
 * `NET_RAW,sys_chroot,CAP_MKNOD` → the capability names, upper-case without `CAP_`, each once.
 * `ALL` is refused: it would hand a sandbox every capability there is.
 */
export function parseCapabilityList(text: string): LinuxCapability[] {
  const names: LinuxCapability[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const name = item.toUpperCase().replace(/^CAP_/, '');
    const known = LINUX_CAPABILITIES.find((capability) => capability === name);
    if (known === undefined) {
      throw new Error(
        `Invalid environment: SANDBOX_CAP_ADD: ${item} is not a Linux capability (such as NET_RAW or SYS_CHROOT; ALL is not allowed)`,
      );
    }
    if (!names.includes(known)) names.push(known);
  }
  return names;
}

/** Docker's own networks: a sandbox network of that name would not be one of sandboxd's. */
const DOCKER_NETWORK_NAMES = ['bridge', 'host', 'none', 'default'];

/** A Docker network name that is not one of Docker's predefined networks. */
export function parseNetworkName(text: string): string {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/.test(text)) {
    throw new Error(
      'Invalid environment: SANDBOX_NETWORK must be 1-63 letters, digits, _ . - (starting with a letter or digit)',
    );
  }
  if (DOCKER_NETWORK_NAMES.includes(text.toLowerCase())) {
    throw new Error(
      `Invalid environment: SANDBOX_NETWORK must not be Docker's own "${text}" network: sandboxd makes and uses a bridge network of its own, with inter-container traffic off`,
    );
  }
  return text;
}
