// Decorator metadata for the config DTOs the support modules reach.
import 'reflect-metadata';
import { call } from '../test/support/api-keys';
import { DEMO_IMAGE } from '../test/support/docker';
import { SandboxdCluster } from '../test/support/cluster/sandboxd-cluster';
import { clusterUnavailableReason } from '../test/support/cluster/swarm-cluster';
import { Cleanups } from './support/run';
import {
  fmtMs,
  fmtRatio,
  log,
  positiveInt,
  printTable,
  ratio,
  statsOf,
  writeResults,
} from './support/stats';

/**
 * 60 creates at once through one instance of a three-node cluster (CLUSTER=swarm on the
 * test harness's real Swarm: three dockerds in network namespaces, one sandboxd each) against the
 * same 60 on a one-node cluster (the same harness, the same relays, one node): wall time,
 * per-create p50/p95, errors and how the creates spread over the nodes.
 *
 * The two cannot run at once (the harness has one fixed set of namespaces), so the rounds are
 * sequential: all rounds on three nodes, then all on one. Every node of both runs on this one
 * VM's two cores, so three nodes add engines but not CPUs: the ratio shows what placement and
 * forwarding cost and what three engines working in parallel gain, not a real cluster's speed-up.
 */

const CREATES = positiveInt('BENCH_CREATES', 60);
const ROUNDS = positiveInt('BENCH_ROUNDS', 2);
const BODY = { image: DEMO_IMAGE, cpus: 0.1, memory: '32m' };

interface Round {
  nodes: number;
  wallMs: number;
  createMs: number[];
  errors: string[];
  perNode: number[];
}

async function burst(cluster: SandboxdCluster, nodes: number): Promise<Round> {
  const url = cluster.instance(0).url;
  const key = cluster.adminKey;
  const ids = [0, 1, 2].slice(0, nodes).map((i) => cluster.swarm.node(i).nodeId);
  const started = Date.now();
  const answers = await Promise.all(
    Array.from({ length: CREATES }, async () => {
      const begun = Date.now();
      const answer = await call(url, 'POST', '/v1/sandboxes?wait=true', { key, body: BODY });
      return { answer, ms: Date.now() - begun };
    }),
  );
  const wallMs = Date.now() - started;
  const views = answers.map(
    ({ answer }) => answer.body as { id?: string; node?: string; state?: string },
  );
  const errors = answers
    .filter(
      ({ answer }) =>
        answer.status !== 200 || (answer.body as { state?: string }).state !== 'running',
    )
    .map(({ answer }) => `${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`);
  const perNode = ids.map((id) => views.filter((view) => view.node === id).length);
  // Not timed: every sandbox goes, through the instance that took the burst (forwarded deletes).
  await Promise.all(
    views
      .filter((view) => typeof view.id === 'string')
      .map((view) => call(url, 'DELETE', `/v1/sandboxes/${view.id}?force=true`, { key })),
  );
  return { nodes, wallMs, createMs: answers.map((a) => a.ms), errors, perNode };
}

async function runOn(nodes: number, cleanups: Cleanups): Promise<Round[]> {
  log(`starting a ${nodes}-node cluster`);
  const cluster = await SandboxdCluster.start({ nodes, env: { OVERCOMMIT_CPU: '8' } });
  cleanups.add(`${nodes}-node cluster`, () => cluster.stop());
  // Every node ready for placement before the first burst.
  for (;;) {
    const answer = await call(cluster.instance(0).url, 'GET', '/v1/admin/nodes', {
      key: cluster.adminKey,
    });
    const listed = (answer.body as { nodes?: { status: string }[] }).nodes ?? [];
    if (listed.length === nodes && listed.every((node) => node.status === 'ready')) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const rounds: Round[] = [];
  for (let i = 0; i < ROUNDS; i += 1) {
    const round = await burst(cluster, nodes);
    log(`${nodes} node(s), round ${i + 1}: ${round.wallMs} ms, spread ${round.perNode.join('/')}`);
    rounds.push(round);
  }
  await cleanups.runAll();
  return rounds;
}

async function main(): Promise<void> {
  const why = clusterUnavailableReason();
  if (why !== null) throw new Error(`cannot build a cluster here: ${why}`);
  const cleanups = new Cleanups();
  try {
    const three = await runOn(3, cleanups);
    const one = await runOn(1, cleanups);
    const summary = (rounds: Round[]) => {
      const wall = statsOf(rounds.map((r) => r.wallMs));
      const creates = statsOf(rounds.flatMap((r) => r.createMs));
      return { wall, creates, errors: rounds.flatMap((r) => r.errors) };
    };
    const a = summary(three);
    const b = summary(one);
    const row = (name: string, s: ReturnType<typeof summary>, rounds: Round[]) => [
      name,
      fmtMs(s.wall.medianMs),
      fmtMs(s.creates.medianMs),
      fmtMs(s.creates.p95Ms),
      String(s.errors.length),
      rounds.map((r) => r.perNode.join('/')).join(', '),
    ];
    printTable(
      `${CREATES} creates at once through one instance (wait=true), ${ROUNDS} round(s) each`,
      ['cluster', 'wall median', 'create p50', 'create p95', 'errors', 'spread per round'],
      [
        row('3 nodes', a, three),
        row('1 node', b, one),
        [
          '3 / 1',
          fmtRatio(ratio(a.wall.medianMs, b.wall.medianMs)),
          fmtRatio(ratio(a.creates.medianMs, b.creates.medianMs)),
          fmtRatio(ratio(a.creates.p95Ms, b.creates.p95Ms)),
          '',
          '',
        ],
      ],
    );
    for (const error of [...a.errors, ...b.errors].slice(0, 10)) log(`error: ${error}`);
    const file = writeResults('cluster-burst', {
      creates: CREATES,
      rounds: ROUNDS,
      threeNodes: { ...a, perRound: three },
      oneNode: { ...b, perRound: one },
      wallRatio: ratio(a.wall.medianMs, b.wall.medianMs),
    });
    log(`results in ${file}`);
    if (a.errors.length + b.errors.length > 0) process.exitCode = 1;
  } finally {
    const failures = await cleanups.runAll();
    if (failures.length > 0) process.exitCode = 1;
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
