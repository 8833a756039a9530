import { loadConfig } from '@app/config';
import type { SandboxRecord } from '@app/domain';
import type { ClusterNodeRecord, ClusterNodeStore } from '@app/meta-store';
import { NodeLoss } from './node-loss';
import type { SandboxCommand, SandboxCommands } from './sandbox-commands';

const NOW = 10_000_000;

function node(id: string, overrides: Partial<ClusterNodeRecord>): ClusterNodeRecord {
  return {
    nodeId: id,
    hostname: id,
    role: 'manager',
    availability: 'active',
    state: 'ready',
    labels: {},
    cpus: 2,
    memoryBytes: 1,
    platform: 'linux/x86_64',
    observedAt: NOW - 1000,
    instanceId: `i-${id}`,
    apiUrl: `http://${id}`,
    e2bUrl: null,
    heartbeatAt: NOW - 1000,
    committed: { sandboxes: 0, cpus: 0, memoryBytes: 0 },
    ...overrides,
  };
}

function setUp(nodes: ClusterNodeRecord[]) {
  const config = loadConfig({
    CLUSTER: 'swarm',
    CLUSTER_SECRET: 'x'.repeat(32),
    NODE_LOST_SECONDS: '60',
    INSTANCE_ID: 'i-self',
    SQLITE_PATH: ':memory:',
  });
  const asked: SandboxCommand[] = [];
  const store = {
    list: () => Promise.resolve(nodes),
    liveSandboxesOf: (instanceId: string) => Promise.resolve([`sbx-of-${instanceId}`]),
  } as unknown as ClusterNodeStore;
  const commands = {
    run: (command: SandboxCommand) => {
      asked.push(command);
      return Promise.resolve({ outcome: 'done', record: {} as SandboxRecord });
    },
  } as unknown as SandboxCommands;
  return { loss: new NodeLoss(config.cluster, config.docker, store, commands), asked };
}

describe('node loss', () => {
  it('stops the live sandboxes of a node silent past NODE_LOST_SECONDS, as exited node-lost', async () => {
    const { loss, asked } = setUp([
      node('fresh', {}),
      node('silent', { heartbeatAt: NOW - 61_000 }),
      node('never', { instanceId: null, heartbeatAt: null }),
    ]);
    const result = await loss.sweep(NOW);
    expect(result).toEqual({ lostNodes: ['silent'], stopped: 1 });
    expect(asked.map((c) => [c.sandboxId, c.event, c.foreign])).toEqual([
      ['sbx-of-i-silent', { type: 'exited', reason: 'node-lost' }, 'allowed'],
    ]);
  });

  it('leaves alone its own node, and a drained node the Swarm still reports ready', async () => {
    const { loss, asked } = setUp([
      node('self', { instanceId: 'i-self', heartbeatAt: NOW - 600_000 }),
      node('drained', { heartbeatAt: NOW - 600_000, availability: 'drain' }),
      // Drained, but the Swarm has not been read for long: it may be gone for real.
      node('stale-facts', {
        heartbeatAt: NOW - 600_000,
        availability: 'drain',
        observedAt: NOW - 600_000,
      }),
    ]);
    expect((await loss.sweep(NOW)).lostNodes).toEqual(['stale-facts']);
    expect(asked.map((c) => c.sandboxId)).toEqual(['sbx-of-i-stale-facts']);
  });

  it('skips a sandbox with an operation in flight or of another instance', async () => {
    const { loss, asked } = setUp([node('silent', { heartbeatAt: NOW - 61_000 })]);
    await loss.sweep(NOW);
    const unless = asked[0].unless!;
    const info = (overrides: object) =>
      ({
        info: { instanceId: 'i-silent', state: 'running', operation: null, ...overrides },
      }) as unknown as SandboxRecord;
    expect(unless(info({}))).toBeNull();
    expect(unless(info({ state: 'pending', operation: 'starting' }))).toMatch(/in flight/);
    expect(unless(info({ instanceId: 'i-other' }))).toMatch(/not on the lost node/);
  });
});
