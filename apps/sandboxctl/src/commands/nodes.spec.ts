import type { NodeList, NodeView } from '@app/sdk';
import { describeNodes } from './nodes';

const node = (overrides: Partial<NodeView>): NodeView => ({
  id: 'abcdefghijklmnop',
  hostname: 'vm-1',
  role: 'manager',
  availability: 'active',
  state: 'ready',
  status: 'ready',
  labels: {},
  platform: 'linux/x86_64',
  cpus: 2,
  memoryBytes: 4 * 1024 ** 3,
  instanceId: 'vm-1',
  url: 'http://10.0.0.1:8080',
  lastHeartbeatAt: '2026-12-03T12:00:00.000Z',
  reserved: { sandboxes: 2, cpus: 0.5, memoryBytes: 1024 ** 3 },
  free: { cpus: 7.5, memoryBytes: 5 * 1024 ** 3 },
  sandboxes: { running: 2, stopped: 1 },
  ...overrides,
});

describe('sandboxctl nodes', () => {
  it('prints one row per node with what placement goes by', () => {
    const list: NodeList = {
      cluster: 'swarm',
      nodes: [node({}), node({ id: 'zyx', status: 'lost', availability: 'drain', sandboxes: {} })],
    };
    const text = describeNodes(list, Date.parse('2026-12-03T12:00:05.000Z'));
    const [header, first, second] = text.split('\n');
    expect(header).toMatch(/^NODE\s+HOST\s+STATUS\s+AVAILABILITY\s+HEARTBEAT/);
    expect(first).toMatch(/^abcdefghijkl\s+vm-1\s+ready\s+active\/ready\s+5s ago\s+0\.5 cpu 1\.0G/);
    expect(first).toContain('2 running, 1 stopped');
    expect(second).toMatch(/^zyx\s+vm-1\s+lost\s+drain\/ready/);
  });

  it('says so on a single host', () => {
    expect(describeNodes({ cluster: 'off', nodes: [] })).toContain('cluster mode is off');
  });
});
