import type { SandboxInfo } from '@app/domain';
import { stateHasTag } from '@app/sandbox';

/** The envd version sandboxd's data plane answers as: the SDK gates features on it. */
const ENVD_VERSION = '0.5.7';
/** Label keys that carry E2B's own fields on a sandbox record. */
export const TEMPLATE_LABEL = 'e2b.template';
export const METADATA_PREFIX = 'e2b.metadata/';
/** The stop reason of `pause`: only a sandbox stopped this way reads as E2B's `paused`. */
export const PAUSE_REASON = 'e2b-pause';

export type E2bState = 'running' | 'paused';

/**
 * What E2B calls the sandbox: running (starting counts), paused (stopped by pause), or null when
 * E2B would have no such sandbox (deleted, failed, or stopped by its timeout: E2B kills those).
 */
export function e2bStateOf(info: SandboxInfo): E2bState | null {
  // The machine's "live" tag: starting, running or on the way to a stop.
  if (stateHasTag(info, 'live')) return 'running';
  // Paused: the last transition is pause's stop (nothing happened since, not even a delete).
  const last = info.stateHistory.at(-1);
  return last?.to === 'stopped' && last.reason === PAUSE_REASON ? 'paused' : null;
}

export function metadataOf(info: SandboxInfo): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(info.labels)) {
    if (key.startsWith(METADATA_PREFIX)) metadata[key.slice(METADATA_PREFIX.length)] = value;
  }
  return metadata;
}

/** The end of the sandbox's life as E2B reports it: its max-lifetime deadline. */
function endAtOf(info: SandboxInfo): string {
  if (info.autoStopAt) return info.autoStopAt;
  const start = Date.parse(info.startedAt ?? info.createdAt);
  const seconds = info.maxLifetimeSeconds ?? 0;
  return new Date(start + seconds * 1000).toISOString();
}

/**
 * The create and connect answer (E2B's `Sandbox`). `envdAccessToken` is left out for an open
 * sandbox (`secure: false`): the SDK then sends none.
 */
export function sandboxAnswer(info: SandboxInfo, accessToken: string | undefined) {
  return {
    sandboxID: info.id,
    templateID: info.labels[TEMPLATE_LABEL] ?? info.image,
    clientID: 'sandboxd',
    envdVersion: ENVD_VERSION,
    envdAccessToken: accessToken,
    trafficAccessToken: null,
    // null keeps an SDK that was given sandboxUrl on it; the README says to set both URLs.
    domain: null,
  };
}

/** E2B's `ListedSandbox`, and with `detail` the fields of `SandboxDetail`. */
export function listedAnswer(info: SandboxInfo, state: E2bState) {
  return {
    sandboxID: info.id,
    templateID: info.labels[TEMPLATE_LABEL] ?? info.image,
    alias: info.labels[TEMPLATE_LABEL] ?? info.image,
    clientID: 'sandboxd',
    metadata: metadataOf(info),
    startedAt: info.startedAt ?? info.createdAt,
    endAt: endAtOf(info),
    state,
    cpuCount: Math.max(1, Math.ceil(info.cpus ?? 1)),
    memoryMB: info.memoryBytes === null ? 0 : Math.round(info.memoryBytes / (1024 * 1024)),
    diskSizeMB: 0,
    envdVersion: ENVD_VERSION,
    volumeMounts: [],
  };
}

export function detailAnswer(info: SandboxInfo, state: E2bState, accessToken: string | undefined) {
  return {
    ...listedAnswer(info, state),
    allowInternetAccess: true,
    envdAccessToken: accessToken,
    domain: null,
    lifecycle: { autoResume: false, onTimeout: 'kill' },
  };
}
