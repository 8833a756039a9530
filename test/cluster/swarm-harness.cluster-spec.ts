import { ChildProcess, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { DEMO_IMAGE } from '../support/docker';
import { listClusterNetns, nodeIp } from '../support/cluster/netns';
import {
  clusterUnavailableReason,
  DEFAULT_BASE,
  SwarmCluster,
} from '../support/cluster/swarm-cluster';
import { MANAGED_LABEL, mountsUnder, pidsWhere } from '../support/cluster/swarm-node';

/**
 * A smoke test of the cluster harness itself (test/support/cluster): that it builds a real
 * 3-manager swarm, that the nodes can run containers and reach the host's PostgreSQL and Redis,
 * that a node's HTTP service is reachable from the test, that a killed node goes down and comes
 * back, and that stop() leaves nothing behind. The tests run in order on one cluster.
 */

const unavailable = clusterUnavailableReason();
if (unavailable !== null) console.warn(`SKIPPING the swarm harness suite: ${unavailable}`);
const describeCluster = unavailable === null ? describe : describe.skip;

/** Collects a child's stdout until it exits; rejects on a non-zero exit with its stderr. */
function outputOf(child: ChildProcess): Promise<string> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`exit ${code}: ${stderr}`)),
    );
  });
}

/** Resolves once the child prints `text` on stdout. */
function printed(child: ChildProcess, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      if (seen.includes(text)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`ended (${code}) before printing ${text}`)));
  });
}

/**
 * Run inside a node: speaks to PostgreSQL (an SSLRequest, answered 'S' or 'N') and Redis (PING)
 * on the namespace's own 127.0.0.1, and opens the swarm port of node 0. Prints a JSON object.
 */
const PROBE = `
const net = require('node:net');
function probe(host, port, send, expect) {
  return new Promise((resolve) => {
    const socket = net.connect(port, host);
    const done = (result) => { socket.destroy(); resolve(result); };
    socket.setTimeout(5000, () => done('timeout'));
    socket.on('error', (error) => done(error.code));
    socket.on('connect', () => (send ? socket.write(send) : done('open')));
    socket.on('data', (data) => done(expect.test(data.toString('latin1')) ? 'answered' : 'odd'));
  });
}
Promise.all([
  probe('127.0.0.1', 5432, Buffer.from([0, 0, 0, 8, 4, 210, 22, 47]), /^[SN]/),
  probe('127.0.0.1', 6379, 'PING\\r\\n', /^\\+PONG/),
  probe('${nodeIp(0)}', 2377, null, null),
]).then(([postgres, redis, swarm]) => console.log(JSON.stringify({ postgres, redis, swarm })));
`;

const HTTP_SERVER = `
require('node:http')
  .createServer((req, res) => res.end('hello from node 2 ' + req.url))
  .listen(18080, '0.0.0.0', () => console.log('listening'));
`;

describeCluster('the swarm test harness', () => {
  let cluster: SwarmCluster | null = null;
  const base = DEFAULT_BASE;

  beforeAll(async () => {
    const started = Date.now();
    cluster = await SwarmCluster.start({ nodes: 3, base });
    console.log(`3-node swarm up in ${Date.now() - started} ms`);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  function theCluster(): SwarmCluster {
    if (cluster === null) throw new Error('the cluster did not start');
    return cluster;
  }

  it('forms a swarm of 3 ready, reachable managers with distinct ids', async () => {
    const nodes = await theCluster().listNodes(0);
    expect(nodes).toHaveLength(3);
    for (const node of nodes) {
      expect(node.Status.State).toBe('ready');
      expect(node.Spec.Role).toBe('manager');
      expect(node.ManagerStatus?.Reachability).toBe('reachable');
    }
    const ids = new Set(nodes.map((node) => node.ID));
    expect(ids.size).toBe(3);
    expect(new Set(theCluster().nodes.map((node) => node.nodeId))).toEqual(ids);
    // Any node can read the node list: all are managers.
    expect(await theCluster().listNodes(2)).toHaveLength(3);
  });

  it('gives the host namespace no address on the cluster network', () => {
    expect(execFileSync('ip', ['-4', 'addr'], { encoding: 'utf8' })).not.toContain('10.213.');
  });

  it('runs a container on every node', async () => {
    for (const node of theCluster().nodes) {
      const container = await node.docker.createContainer({
        Image: DEMO_IMAGE,
        Cmd: ['sleep', '60'],
        Labels: { [MANAGED_LABEL.split('=')[0]]: 'true' },
      });
      await container.start();
      expect((await container.inspect()).State.Running).toBe(true);
    }
  });

  it('reaches PostgreSQL and Redis on 127.0.0.1 and node 0 from inside node 1', async () => {
    const child = theCluster().spawnInNode(1, process.execPath, ['-e', PROBE]);
    const answer = JSON.parse(await outputOf(child)) as Record<string, string>;
    expect(answer).toEqual({ postgres: 'answered', redis: 'answered', swarm: 'open' });
  });

  it("makes node 2's HTTP service callable from the test process", async () => {
    const server = theCluster().spawnInNode(2, process.execPath, ['-e', HTTP_SERVER]);
    await printed(server, 'listening');
    const url = await theCluster().exposeHttp(2, 18080);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const response = await fetch(`${url}/ping`);
    expect(await response.text()).toBe('hello from node 2 /ping');
    expect(await theCluster().exposeHttp(2, 18080)).toBe(url);
  });

  it('sees a killed node go down and a restarted one come back', async () => {
    const cluster = theCluster();
    await cluster.node(2).kill();
    await expect(cluster.node(2).docker.ping()).rejects.toThrow();
    const downAfter = await cluster.waitForNodeState(2, 'down', { timeoutMs: 60_000, observer: 0 });
    // Two managers of three keep quorum: the swarm still answers.
    expect(await cluster.listNodes(1)).toHaveLength(3);
    const restarted = Date.now();
    await cluster.node(2).restart();
    const readyAfter = await cluster.waitForNodeState(2, 'ready', { observer: 0 });
    console.log(
      `node 2 down ${downAfter} ms after its kill; ready ${Date.now() - restarted} ms after` +
        ` its restart (${readyAfter} ms of it waiting for the swarm)`,
    );
  });

  it('leaves no namespace, process or mount behind when stopped', async () => {
    await theCluster().stop();
    await theCluster().stop(); // idempotent
    expect(await listClusterNetns()).toEqual([]);
    expect(pidsWhere((cmdline) => cmdline.includes(`${base}/`))).toEqual([]);
    expect(mountsUnder(base)).toEqual([]);
    expect(existsSync(base)).toBe(false);
  });
});
