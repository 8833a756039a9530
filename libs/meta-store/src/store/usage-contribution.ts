import { LIVE_STATES } from '@app/domain';
import type { SandboxState } from '@app/domain';

/** The usage counter row of the engine host: what the live sandboxes commit. */
export const HOST_SCOPE = 'host';

/**
 * The usage counter row of one cluster node (CLUSTER=swarm): what the live sandboxes on its engine
 * commit. In cluster mode each node is a host of its own, so it plays HOST_SCOPE's part for them.
 */
export function nodeScope(node: string): string {
  return `node:${node}`;
}

/** Whether the scope is a host's (the single host's, or a cluster node's): capacity, not a tenant. */
export function isHostScope(scope: string): boolean {
  return scope === HOST_SCOPE || scope.startsWith('node:');
}

/** The usage counter row of a tenant: what its sandboxes that are not deleted hold. */
export function tenantScope(tenant: string): string {
  return `tenant:${tenant}`;
}

/** Nano-CPUs per CPU: Docker's NanoCpus resolution, finer than any limit can be asked in. */
export const NANOS_PER_CPU = 1e9;

/** CPUs as whole nano-CPUs, so counters add integers (0.1 + 0.2 is exactly 0.3 of them). */
export function cpuNanosOf(cpus: number | null): number {
  return typeof cpus === 'number' && Number.isFinite(cpus) ? Math.round(cpus * NANOS_PER_CPU) : 0;
}

/**
 * Bytes as the bigint column holds them: whole (a record an old release wrote may hold a fraction
 * in its info, which the back-fill rounded for the column).
 */
function bytesOf(memoryBytes: number | null): number {
  return typeof memoryBytes === 'number' && Number.isFinite(memoryBytes)
    ? Math.round(memoryBytes)
    : 0;
}

/** What one row (or the difference of two) adds to one counter row. */
export interface UsageAmounts {
  sandboxes: number;
  liveSandboxes: number;
  cpuNanos: number;
  memoryBytes: number;
}

/** The fields of a sandbox row that its contribution depends on. */
export interface CountedRow {
  state: SandboxState;
  /** The `tenant` column: '' (NO_TENANT) for a tenant-less sandbox, which no tenant row counts. */
  tenant: string;
  /** The `node` column: '' (single host) or the cluster node whose engine holds the container. */
  node: string;
  cpus: number | null;
  memoryBytes: number | null;
}

export const ZERO_USAGE: UsageAmounts = Object.freeze({
  sandboxes: 0,
  liveSandboxes: 0,
  cpuNanos: 0,
  memoryBytes: 0,
});

/** a + sign × b, counter by counter (sign -1: what is left once b is taken off a). */
export function sumUsage(a: UsageAmounts, b: UsageAmounts, sign: 1 | -1 = 1): UsageAmounts {
  return {
    sandboxes: a.sandboxes + sign * b.sandboxes,
    liveSandboxes: a.liveSandboxes + sign * b.liveSandboxes,
    cpuNanos: a.cpuNanos + sign * b.cpuNanos,
    memoryBytes: a.memoryBytes + sign * b.memoryBytes,
  };
}

/**
 * What a row adds to each counter row, by scope: the host (its node's row in cluster mode) counts
 * it while it is live (pending, running), its tenant while it is not deleted. A missing limit adds 0 CPUs or bytes.
 */
export function contributionOf(row: CountedRow): Map<string, UsageAmounts> {
  const out = new Map<string, UsageAmounts>();
  const live = LIVE_STATES.includes(row.state);
  const amounts = (count: number, liveCount: number): UsageAmounts => ({
    sandboxes: count,
    liveSandboxes: liveCount,
    cpuNanos: cpuNanosOf(row.cpus),
    memoryBytes: bytesOf(row.memoryBytes),
  });
  if (live) out.set(row.node === '' ? HOST_SCOPE : nodeScope(row.node), amounts(1, 1));
  if (row.tenant !== '' && row.state !== 'deleted') {
    out.set(tenantScope(row.tenant), amounts(1, live ? 1 : 0));
  }
  return out;
}

/**
 * contribution(after) − contribution(before), by scope, leaving out the scopes that do not move;
 * in lock order (the host row first, then tenant rows by scope), the order in which every
 * transaction takes the counter rows. `before` null: a new row.
 */
export function usageDelta(before: CountedRow | null, after: CountedRow): [string, UsageAmounts][] {
  const was = before === null ? new Map<string, UsageAmounts>() : contributionOf(before);
  const now = contributionOf(after);
  const deltas: [string, UsageAmounts][] = [];
  for (const scope of new Set([...was.keys(), ...now.keys()])) {
    const a = was.get(scope) ?? ZERO_USAGE;
    const b = now.get(scope) ?? ZERO_USAGE;
    const delta = sumUsage(b, a, -1);
    if (Object.values(delta).some((value) => value !== 0)) deltas.push([scope, delta]);
  }
  return deltas.sort(([x], [y]) => compareScopes(x, y));
}

/** Lock order of counter rows: host rows (the host's, nodes') before any tenant row, then by scope. */
export function compareScopes(a: string, b: string): number {
  if (a === b) return 0;
  const hostFirst = Number(isHostScope(b)) - Number(isHostScope(a));
  if (hostFirst !== 0) return hostFirst;
  return a < b ? -1 : 1;
}
