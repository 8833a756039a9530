import { CodedError } from '@app/domain';
import type { ClusterNodeRecord } from '@app/meta-store';
import { PlacementRequest, PlacementRules, normalizePlatform, rankNodes } from './placement';

const GiB = 1024 ** 3;
const NOW = 1_000_000;

function node(id: string, overrides: Partial<ClusterNodeRecord> = {}): ClusterNodeRecord {
  return {
    nodeId: id,
    hostname: `host-${id}`,
    role: 'manager',
    availability: 'active',
    state: 'ready',
    labels: {},
    cpus: 2,
    memoryBytes: 4 * GiB,
    platform: 'linux/x86_64',
    observedAt: NOW,
    instanceId: `i-${id}`,
    apiUrl: `http://${id}:8080`,
    e2bUrl: null,
    heartbeatAt: NOW - 1000,
    committed: { sandboxes: 0, cpus: 0, memoryBytes: 0 },
    ...overrides,
  };
}

const request = (overrides: Partial<PlacementRequest> = {}): PlacementRequest => ({
  cpus: 1,
  memoryBytes: GiB,
  runtime: 'runc',
  nodeLabels: {},
  platform: null,
  ...overrides,
});

const rules = (overrides: Partial<PlacementRules> = {}): PlacementRules => ({
  now: NOW,
  staleAfterMs: 15_000,
  overcommitCpu: 1,
  overcommitMemory: 1,
  choices: 3,
  nearBest: 0.01,
  random: () => 0,
  ...overrides,
});

function refusal(run: () => unknown): CodedError {
  try {
    run();
  } catch (error) {
    if (error instanceof CodedError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('placement', () => {
  it('ranks the roomiest node first, the rest by room', () => {
    const nodes = [
      node('a', { committed: { sandboxes: 1, cpus: 1, memoryBytes: GiB } }),
      node('b'),
      node('c', { committed: { sandboxes: 1, cpus: 0.5, memoryBytes: GiB } }),
    ];
    expect(rankNodes(request(), nodes, rules()).map((n) => n.nodeId)).toEqual(['b', 'c', 'a']);
  });

  it('draws at random among near-ties, so a burst from several instances spreads', () => {
    const nodes = [node('a'), node('b'), node('c')];
    const firsts = [0, 0.34, 0.67].map(
      (r) => rankNodes(request(), nodes, rules({ random: () => r }))[0].nodeId,
    );
    expect(new Set(firsts)).toEqual(new Set(['a', 'b', 'c']));
    // Every node stays in the order, once: the others are the fallbacks.
    expect(
      rankNodes(request(), nodes, rules({ random: () => 0.5 }))
        .map((n) => n.nodeId)
        .sort(),
    ).toEqual(['a', 'b', 'c']);
  });

  it('refuses with NO_MATCHING_NODE naming why each node does not match', () => {
    const nodes = [
      node('a', { availability: 'drain' }),
      node('b', { state: 'down' }),
      node('c', { heartbeatAt: NOW - 60_000 }),
      node('d', { instanceId: null, apiUrl: null, heartbeatAt: null }),
      node('e', { labels: { zone: 'x' } }),
    ];
    const error = refusal(() => rankNodes(request({ nodeLabels: { zone: 'y' } }), nodes, rules()));
    expect(error.code).toBe('NO_MATCHING_NODE');
    expect(error.details).toEqual({
      nodes: {
        a: 'availability is drain',
        b: 'state is down',
        c: 'its instance has not reported for 60 s',
        d: 'no sandboxd instance runs there',
        e: 'node label zone is "x", not "y"',
      },
    });
    expect(error.message).toContain('host-a (a): availability is drain');
  });

  it('needs the runtime label for a runtime other than runc, and the platform when known', () => {
    const nodes = [node('a'), node('b', { labels: { 'sandboxd.runtime.runsc': 'true' } })];
    expect(rankNodes(request({ runtime: 'runsc' }), nodes, rules()).map((n) => n.nodeId)).toEqual([
      'b',
    ]);
    const arm = [node('a', { platform: 'linux/aarch64' }), node('b')];
    expect(
      rankNodes(request({ platform: 'linux/arm64' }), arm, rules()).map((n) => n.nodeId),
    ).toEqual(['a']);
    expect(normalizePlatform('Linux/x86_64')).toBe('linux/amd64');
  });

  it('is 429 INSUFFICIENT_CAPACITY when it fits only an emptier node, 422 when it never fits', () => {
    const full = [node('a', { committed: { sandboxes: 2, cpus: 2, memoryBytes: 2 * GiB } })];
    expect(refusal(() => rankNodes(request(), full, rules())).code).toBe('INSUFFICIENT_CAPACITY');
    expect(refusal(() => rankNodes(request({ cpus: 3 }), full, rules())).code).toBe(
      'EXCEEDS_HOST_CAPACITY',
    );
    // Overcommit makes room: 2 CPUs × 2 holds a third.
    expect(rankNodes(request(), full, rules({ overcommitCpu: 2 }))).toHaveLength(1);
  });

  it('says so when no node is known at all', () => {
    expect(refusal(() => rankNodes(request(), [], rules())).message).toContain('no cluster node');
  });
});
