import {
  HOST_SCOPE,
  contributionOf,
  cpuNanosOf,
  nodeScope,
  sumUsage,
  tenantScope,
  usageDelta,
} from './usage-contribution';
import type { CountedRow } from './usage-contribution';

const GiB = 1024 ** 3;

function row(overrides: Partial<CountedRow>): CountedRow {
  return {
    state: 'running',
    tenant: 'team-a',
    node: '',
    cpus: 1.5,
    memoryBytes: GiB,
    ...overrides,
  };
}

describe('usage contribution', () => {
  it('counts a live row on the host and on its tenant, in whole nano-CPUs', () => {
    expect([...contributionOf(row({}))]).toEqual([
      [HOST_SCOPE, { sandboxes: 1, liveSandboxes: 1, cpuNanos: 1_500_000_000, memoryBytes: GiB }],
      [
        tenantScope('team-a'),
        { sandboxes: 1, liveSandboxes: 1, cpuNanos: 1_500_000_000, memoryBytes: GiB },
      ],
    ]);
  });

  it("counts a live row placed on a cluster node on that node's row instead of the host's", () => {
    expect([...contributionOf(row({ node: 'n1' })).keys()]).toEqual([
      nodeScope('n1'),
      'tenant:team-a',
    ]);
    expect([...contributionOf(row({ node: 'n1', state: 'stopped' })).keys()]).toEqual([
      'tenant:team-a',
    ]);
    // Host rows (the host's, nodes') are locked before tenants', whichever comes first by name.
    expect(usageDelta(null, row({ node: 'a', tenant: 'a' })).map(([scope]) => scope)).toEqual([
      nodeScope('a'),
      'tenant:a',
    ]);
  });

  it('counts a stopped row on its tenant only, and a deleted row nowhere', () => {
    expect([...contributionOf(row({ state: 'stopped' })).keys()]).toEqual(['tenant:team-a']);
    expect(contributionOf(row({ state: 'stopped' })).get('tenant:team-a')?.liveSandboxes).toBe(0);
    expect(contributionOf(row({ state: 'deleted' })).size).toBe(0);
  });

  it('counts a tenant-less row on the host only, and a missing limit as 0', () => {
    expect([...contributionOf(row({ tenant: '', cpus: null, memoryBytes: null }))]).toEqual([
      [HOST_SCOPE, { sandboxes: 1, liveSandboxes: 1, cpuNanos: 0, memoryBytes: 0 }],
    ]);
  });

  it('rounds per row, so floats never drift: 0.1 + 0.2 CPUs are 300 million nano-CPUs', () => {
    expect(cpuNanosOf(0.1) + cpuNanosOf(0.2)).toBe(cpuNanosOf(0.3));
    expect(cpuNanosOf(Number.NaN)).toBe(0);
  });

  it('moves nothing for a write that changes no share (pending → running)', () => {
    expect(usageDelta(row({ state: 'pending' }), row({ state: 'running' }))).toEqual([]);
  });

  it('releases the host share on stop, takes it back on restart, and the rest on delete', () => {
    const running = row({});
    const stopped = row({ state: 'stopped' });
    const host = { sandboxes: 1, liveSandboxes: 1, cpuNanos: 1_500_000_000, memoryBytes: GiB };
    const negate = (a: typeof host) => ({
      sandboxes: -a.sandboxes,
      liveSandboxes: -a.liveSandboxes,
      cpuNanos: -a.cpuNanos,
      memoryBytes: -a.memoryBytes,
    });
    const tenantLive = { sandboxes: 0, liveSandboxes: 1, cpuNanos: 0, memoryBytes: 0 };
    expect(usageDelta(running, stopped)).toEqual([
      [HOST_SCOPE, negate(host)],
      ['tenant:team-a', { sandboxes: 0, liveSandboxes: -1, cpuNanos: 0, memoryBytes: 0 }],
    ]);
    expect(usageDelta(stopped, row({ state: 'pending' }))).toEqual([
      [HOST_SCOPE, host],
      ['tenant:team-a', tenantLive],
    ]);
    expect(usageDelta(stopped, row({ state: 'deleted' }))).toEqual([
      ['tenant:team-a', { ...negate(host), liveSandboxes: 0 }],
    ]);
    expect(usageDelta(running, row({ state: 'deleted' }))).toEqual([
      [HOST_SCOPE, negate(host)],
      ['tenant:team-a', negate(host)],
    ]);
  });

  it('follows a change of limits, and gives a new row its whole share', () => {
    expect(usageDelta(row({ cpus: 2 }), row({ cpus: 0.5 }))).toEqual([
      [HOST_SCOPE, { sandboxes: 0, liveSandboxes: 0, cpuNanos: -1_500_000_000, memoryBytes: 0 }],
      [
        'tenant:team-a',
        { sandboxes: 0, liveSandboxes: 0, cpuNanos: -1_500_000_000, memoryBytes: 0 },
      ],
    ]);
    expect(usageDelta(null, row({ state: 'pending' })).map(([scope]) => scope)).toEqual([
      HOST_SCOPE,
      'tenant:team-a',
    ]);
  });

  it('adds amounts counter by counter, or takes them off', () => {
    const a = { sandboxes: 3, liveSandboxes: 2, cpuNanos: 1_500_000_000, memoryBytes: GiB };
    const b = { sandboxes: 1, liveSandboxes: 1, cpuNanos: 500_000_000, memoryBytes: GiB / 2 };
    expect(sumUsage(a, b)).toEqual({
      sandboxes: 4,
      liveSandboxes: 3,
      cpuNanos: 2_000_000_000,
      memoryBytes: 1.5 * GiB,
    });
    expect(sumUsage(a, b, -1)).toEqual({
      sandboxes: 2,
      liveSandboxes: 1,
      cpuNanos: 1_000_000_000,
      memoryBytes: GiB / 2,
    });
  });
});
