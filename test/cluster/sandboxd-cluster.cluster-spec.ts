import { Sandbox } from 'e2b';
import { call } from '../support/api-keys';
import { DEMO_IMAGE } from '../support/docker';
import { listClusterNetns } from '../support/cluster/netns';
import { SandboxdCluster } from '../support/cluster/sandboxd-cluster';
import { clusterUnavailableReason } from '../support/cluster/swarm-cluster';
import { MANAGED_LABEL } from '../support/cluster/swarm-node';

/**
 * sandboxd across a real three-node Docker Swarm (CLUSTER=swarm), every node a dockerd in a
 * network namespace of its own with one sandboxd instance on it, all on one PostgreSQL and Redis.
 * The tests run in order on one cluster: placement spreads creates, every instance answers for
 * every sandbox (the owner does the work), a drained node gets nothing new, a killed node's
 * sandboxes are stopped as node-lost and come back with their files, and a burst of 60 creates
 * through one instance lands on all three nodes.
 */

const unavailable = clusterUnavailableReason();
if (unavailable !== null) console.warn(`SKIPPING the sandboxd cluster suite: ${unavailable}`);
const describeCluster = unavailable === null ? describe : describe.skip;

const SMALL = { image: DEMO_IMAGE, cpus: 0.25, memory: '64m' };
const ROCK = '/apis/envs/sandbox/v1';

interface View {
  id: string;
  state: string;
  node: string | null;
  containerId: string | null;
  failureReason: string | null;
}

describeCluster('sandboxd on a three-node swarm', () => {
  let cluster: SandboxdCluster | null = null;

  beforeAll(async () => {
    const started = Date.now();
    cluster = await SandboxdCluster.start({ nodes: 3 });
    console.log(`3 nodes with an instance each up in ${Date.now() - started} ms`);
    await until('every node ready in GET /v1/admin/nodes', 30_000, async () => {
      const nodes = await adminNodes(0);
      return nodes.length === 3 && nodes.every((node) => node.status === 'ready');
    });
  });

  afterAll(async () => {
    await cluster?.stop();
    expect(await listClusterNetns()).toEqual([]);
  });

  function theCluster(): SandboxdCluster {
    if (cluster === null) throw new Error('the cluster did not start');
    return cluster;
  }

  /** A call to instance `i` with the admin key. */
  function api(i: number, method: string, path: string, body?: unknown) {
    return call(theCluster().instance(i).url, method, path, { key: theCluster().adminKey, body });
  }

  async function adminNodes(i: number): Promise<Record<string, unknown>[]> {
    const answer = await api(i, 'GET', '/v1/admin/nodes');
    expect(answer.status).toBe(200);
    return (answer.body as { nodes: Record<string, unknown>[] }).nodes;
  }

  /** The Swarm node id of node `i`'s engine. */
  function nodeId(i: number): string {
    const id = theCluster().swarm.node(i).nodeId;
    if (id === null) throw new Error(`node ${i} has no Swarm id`);
    return id;
  }

  function nodeIndexOf(view: View): number {
    return [0, 1, 2].find((i) => nodeId(i) === view.node) ?? -1;
  }

  async function create(i: number, body: Record<string, unknown> = SMALL): Promise<View> {
    const answer = await api(i, 'POST', '/v1/sandboxes?wait=true', body);
    expect(answer.status).toBe(200);
    expect((answer.body as View).state).toBe('running');
    return answer.body as View;
  }

  async function writeFile(i: number, id: string, path: string, text: string): Promise<void> {
    const response = await fetch(
      `${theCluster().instance(i).url}/v1/sandboxes/${id}/files?path=${encodeURIComponent(path)}`,
      { method: 'PUT', headers: { authorization: `Bearer ${theCluster().adminKey}` }, body: text },
    );
    expect(response.status).toBe(200);
  }

  async function readFile(i: number, id: string, path: string): Promise<string> {
    const response = await fetch(
      `${theCluster().instance(i).url}/v1/sandboxes/${id}/files?path=${encodeURIComponent(path)}`,
      { headers: { authorization: `Bearer ${theCluster().adminKey}` } },
    );
    expect(response.status).toBe(200);
    return response.text();
  }

  /** The managed containers on node `i`'s engine, by sandbox id. */
  async function containersOn(i: number): Promise<Map<string, { id: string; state: string }>> {
    const listed = await theCluster()
      .swarm.node(i)
      .docker.listContainers({ all: true, filters: { label: [MANAGED_LABEL] } });
    return new Map(
      listed
        .filter((c) => c.Labels['io.sandboxd.sandbox-id'] !== undefined)
        .map((c) => [c.Labels['io.sandboxd.sandbox-id'], { id: c.Id, state: c.State }]),
    );
  }

  it('lists the three nodes with their instance, heartbeat and room', async () => {
    const nodes = await adminNodes(1);
    expect(nodes.map((node) => node.id).sort()).toEqual([0, 1, 2].map(nodeId).sort());
    for (const node of nodes) {
      expect(node.availability).toBe('active');
      expect(node.state).toBe('ready');
      expect(node.instanceId).toMatch(/^cluster-node-\d$/);
      expect(typeof node.lastHeartbeatAt).toBe('string');
      expect((node.free as { cpus: number }).cpus).toBeGreaterThan(0);
    }
  });

  let spread: View[] = [];

  it('spreads creates over all nodes, each container on the engine of its node', async () => {
    spread = await Promise.all([0, 1, 2, 3, 4, 5].map(() => create(0)));
    const perNode = [0, 1, 2].map((i) => spread.filter((v) => nodeIndexOf(v) === i).length);
    console.log(`6 creates through instance 0: per node ${perNode.join('/')}`);
    expect(perNode.every((count) => count > 0)).toBe(true);
    for (const view of spread) {
      const i = nodeIndexOf(view);
      expect((await containersOn(i)).get(view.id)?.id).toBe(view.containerId);
      for (const other of [0, 1, 2].filter((j) => j !== i)) {
        expect((await containersOn(other)).has(view.id)).toBe(false);
      }
    }
  });

  it('runs exec, files, stop and restart through any instance, keeping the files', async () => {
    const target = spread.find((view) => nodeIndexOf(view) === 1)!;
    // Every instance but the owner forwards; the owner answers itself.
    for (const i of [0, 1, 2]) {
      const exec = await api(i, 'POST', `/v1/sandboxes/${target.id}/exec`, {
        command: ['sh', '-c', `echo from-${i}; echo err >&2; exit 3`],
      });
      expect(exec.status).toBe(200);
      expect(exec.body).toMatchObject({ exitCode: 3, stdout: `from-${i}\n`, stderr: 'err\n' });
    }
    await writeFile(0, target.id, '/tmp/kept.txt', 'written through instance 0');
    expect(await readFile(2, target.id, '/tmp/kept.txt')).toBe('written through instance 0');

    const stopped = await api(2, 'POST', `/v1/sandboxes/${target.id}/stop`);
    expect(stopped.status).toBe(200);
    expect((stopped.body as View).state).toBe('stopped');
    expect((await containersOn(1)).get(target.id)?.state).toBe('exited');
    const restarted = await api(0, 'POST', `/v1/sandboxes/${target.id}/restart`);
    expect(restarted.status).toBe(200);
    expect((restarted.body as View).state).toBe('running');
    expect((restarted.body as View).containerId).toBe(target.containerId);
    expect(await readFile(1, target.id, '/tmp/kept.txt')).toBe('written through instance 0');

    // A record read is answered by any instance from the shared records.
    expect((await api(2, 'GET', `/v1/sandboxes/${target.id}`)).body).toMatchObject({
      id: target.id,
      node: nodeId(1),
    });
  });

  it("forwards ROCK's calls to the node that holds the sandbox", async () => {
    const target = spread.find((view) => nodeIndexOf(view) === 2)!;
    const answer = await call(theCluster().instance(0).url, 'POST', `${ROCK}/execute`, {
      headers: { 'x-key': theCluster().adminKey },
      body: { sandbox_id: target.id, command: 'echo rock-through-0' },
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: 'Success' });
    expect(JSON.stringify(answer.body)).toContain('rock-through-0');

    // The multipart upload too: its form is sent on to the owner with the file streamed.
    const form = new FormData();
    form.append('sandbox_id', target.id);
    form.append('target_path', '/tmp/rock-upload.bin');
    form.append('file', new Blob([Buffer.alloc(300_000, 7)]), 'payload.bin');
    const upload = await fetch(`${theCluster().instance(1).url}${ROCK}/upload`, {
      method: 'POST',
      headers: { 'x-key': theCluster().adminKey },
      body: form,
    });
    expect(await upload.json()).toMatchObject({ status: 'Success' });
    const size = await api(0, 'POST', `/v1/sandboxes/${target.id}/exec`, {
      command: ['sh', '-c', 'wc -c < /tmp/rock-upload.bin'],
    });
    expect((size.body as { stdout: string }).stdout.trim()).toBe('300000');
  });

  it("serves E2B's SDK through any instance for a sandbox on another node", async () => {
    const c = theCluster();
    const e2b = {
      apiKey: c.adminKey,
      apiUrl: c.instance(0).e2bUrl,
      sandboxUrl: c.instance(0).e2bUrl,
    };
    // Placement picks the node: create until one lands away from instance 0's (the rest go).
    const made: Sandbox[] = [];
    let remote: { sbx: Sandbox; node: number } | null = null;
    try {
      while (remote === null && made.length < 8) {
        const sbx = await Sandbox.create({ ...e2b, timeoutMs: 300_000 });
        made.push(sbx);
        const view = (await api(0, 'GET', `/v1/sandboxes/${sbx.sandboxId}`)).body as View;
        if (nodeIndexOf(view) !== 0) remote = { sbx, node: nodeIndexOf(view) };
      }
      expect(remote).not.toBeNull();
      const { sbx } = remote!;
      const run = await sbx.commands.run('echo e2b-through-0');
      expect(run.stdout).toBe('e2b-through-0\n');
      await sbx.files.write('/tmp/e2b.txt', 'via envd');
      expect(await sbx.files.read('/tmp/e2b.txt')).toBe('via envd');
      expect((await containersOn(remote!.node)).has(sbx.sandboxId)).toBe(true);
    } finally {
      for (const sbx of made) await sbx.kill();
    }
  });

  it('places no new sandbox on a drained node, and says why when nothing else matches', async () => {
    const drained = nodeId(2);
    await setNode(2, { Availability: 'drain', Labels: { 'test.zone': 'two' } });
    try {
      await until('node 2 draining', 20_000, async () =>
        (await adminNodes(0)).some((n) => n.id === drained && n.status === 'draining'),
      );
      const created = await Promise.all([0, 1, 2, 3].map(() => create(1)));
      expect(created.map(nodeIndexOf).filter((i) => i === 2)).toEqual([]);
      // What was running there keeps running.
      const onTwo = spread.filter((view) => nodeIndexOf(view) === 2);
      for (const view of onTwo) {
        expect(((await api(0, 'GET', `/v1/sandboxes/${view.id}`)).body as View).state).toBe(
          'running',
        );
      }
      const refused = await api(0, 'POST', '/v1/sandboxes', {
        ...SMALL,
        placement: { nodeLabels: { 'test.zone': 'two' } },
      });
      expect(refused.status).toBe(422);
      expect(refused.body).toMatchObject({ code: 'NO_MATCHING_NODE' });
      expect((refused.body as { message: string }).message).toContain('availability is drain');
      for (const view of created) {
        expect((await api(2, 'DELETE', `/v1/sandboxes/${view.id}?force=true`)).status).toBe(204);
      }
    } finally {
      await setNode(2, { Availability: 'active', Labels: { 'test.zone': 'two' } });
    }
    await until('node 2 ready again', 20_000, async () =>
      (await adminNodes(0)).some((n) => n.id === drained && n.status === 'ready'),
    );
    const placed = await create(2, { ...SMALL, placement: { nodeLabels: { 'test.zone': 'two' } } });
    expect(placed.node).toBe(drained);
    spread.push(placed);
  });

  it("marks a killed node's sandboxes node-lost, answers 503 for them, and takes it back with no leak", async () => {
    const c = theCluster();
    const lost = spread.filter((view) => nodeIndexOf(view) === 2);
    expect(lost.length).toBeGreaterThan(0);
    await writeFile(0, lost[0].id, '/tmp/before-loss.txt', 'still here');

    const killedAt = Date.now();
    await c.killInstance(2);
    await c.swarm.node(2).kill();

    // Before it is declared lost: its owner cannot be reached, and the answer is quick.
    const askedAt = Date.now();
    const exec = await api(0, 'POST', `/v1/sandboxes/${lost[0].id}/exec`, { command: ['true'] });
    expect(exec.status).toBe(503);
    expect(exec.body).toMatchObject({ code: 'NODE_UNAVAILABLE' });
    expect(Date.now() - askedAt).toBeLessThan(15_000);

    for (const view of lost) {
      await until(`${view.id} stopped as node-lost`, 60_000, async () => {
        const answer = await api(1, 'GET', `/v1/sandboxes/${view.id}`);
        const body = answer.body as View;
        return body.state === 'stopped' && body.failureReason === 'node-lost';
      });
    }
    console.log(
      `node 2's sandboxes stopped as node-lost ${Date.now() - killedAt} ms after its kill`,
    );
    const events = await api(0, 'GET', `/v1/events?sandbox=${lost[0].id}&type=sandbox.stopped`);
    expect((events.body as { items: { reason: string }[] }).items.map((e) => e.reason)).toContain(
      'node-lost',
    );
    expect((await adminNodes(0)).find((n) => n.id === nodeId(2))?.status).toBe('lost');

    await c.swarm.node(2).restart();
    await c.startInstance(2);
    await until('node 2 ready after its return', 30_000, async () =>
      (await adminNodes(1)).some((n) => n.id === nodeId(2) && n.status === 'ready'),
    );
    // The records won: every container there is stopped, none is running for a stopped record.
    await until('the returning node reconciled', 30_000, async () => {
      const containers = await containersOn(2);
      return lost.every((view) => containers.get(view.id)?.state === 'exited');
    });
    const restarted = await api(0, 'POST', `/v1/sandboxes/${lost[0].id}/restart`);
    expect(restarted.status).toBe(200);
    expect(await readFile(1, lost[0].id, '/tmp/before-loss.txt')).toBe('still here');
    const drift = await api(2, 'GET', '/v1/admin/reconcile');
    expect((drift.body as { drift: unknown[] }).drift).toEqual([]);
  });

  it('takes a burst of 60 creates through one instance onto all nodes with no error', async () => {
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 60 }, () => api(1, 'POST', '/v1/sandboxes', SMALL)),
    );
    expect(answers.filter((a) => a.status !== 202).map((a) => [a.status, a.body])).toEqual([]);
    const ids = answers.map((a) => (a.body as View).id);
    const views: View[] = [];
    for (const id of ids) {
      await until(`${id} running`, 120_000, async () => {
        const view = (await api(0, 'GET', `/v1/sandboxes/${id}`)).body as View;
        if (view.state === 'pending') return false;
        views.push(view);
        return true;
      });
    }
    expect(views.filter((v) => v.state !== 'running')).toEqual([]);
    const perNode = [0, 1, 2].map((i) => views.filter((v) => nodeIndexOf(v) === i).length);
    console.log(
      `60 creates through instance 1 in ${Date.now() - started} ms: ${perNode.join('/')}`,
    );
    expect(perNode.every((count) => count > 0)).toBe(true);

    const all = [...views, ...spread];
    const deleted = await Promise.all(
      all.map((v) => api(0, 'DELETE', `/v1/sandboxes/${v.id}?force=true`)),
    );
    expect(deleted.map((d) => d.status).filter((s) => s !== 204)).toEqual([]);
    for (const i of [0, 1, 2]) expect([...(await containersOn(i)).keys()]).toEqual([]);
  });

  /** Sets node `i`'s availability and labels through the Swarm manager API (node 0's engine). */
  async function setNode(
    i: number,
    spec: { Availability: string; Labels: Record<string, string> },
  ): Promise<void> {
    const manager = theCluster().swarm.node(0).docker;
    const node = manager.getNode(nodeId(i));
    const inspected = (await node.inspect()) as {
      Version: { Index: number };
      Spec: Record<string, unknown>;
    };
    await node.update({
      _query: { version: inspected.Version.Index },
      _body: { ...inspected.Spec, ...spec },
    });
  }
});

/** Polls `check` until it is true; fails naming `what` after `timeoutMs`. */
async function until(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
