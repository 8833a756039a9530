import { Command } from 'commander';
import type { NodeList, NodeView } from '@app/sdk';
import { contextOf } from '../context';

const GiB = 1024 ** 3;

function gib(bytes: number): string {
  return `${(bytes / GiB).toFixed(1)}G`;
}

/** How long ago an ISO instant was, in seconds ("-" for never). */
function ago(at: string | null, now: number): string {
  return at === null ? '-' : `${Math.max(0, Math.round((now - Date.parse(at)) / 1000))}s ago`;
}

function sandboxesOf(view: NodeView): string {
  const entries = Object.entries(view.sandboxes);
  return entries.length === 0 ? '-' : entries.map(([state, n]) => `${n} ${state}`).join(', ');
}

/** One row per node: what placement and node loss go by. */
export function describeNodes(list: NodeList, now = Date.now()): string {
  if (list.cluster === 'off') return 'cluster mode is off (CLUSTER=off): one host, no nodes';
  if (list.nodes.length === 0) return 'no node is known yet: no instance has read the Swarm';
  const header = [
    'NODE',
    'HOST',
    'STATUS',
    'AVAILABILITY',
    'HEARTBEAT',
    'RESERVED',
    'FREE',
    'SANDBOXES',
  ];
  const rows = list.nodes.map((node) => [
    node.id.slice(0, 12),
    node.hostname,
    node.status,
    `${node.availability}/${node.state}`,
    ago(node.lastHeartbeatAt, now),
    `${node.reserved.cpus} cpu ${gib(node.reserved.memoryBytes)}`,
    `${node.free.cpus} cpu ${gib(node.free.memoryBytes)}`,
    sandboxesOf(node),
  ]);
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => row[i].length)),
  );
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `sandboxctl nodes`: the cluster's nodes (admin key; CLUSTER=swarm). */
export function nodesCommand(): Command {
  return new Command('nodes')
    .description(
      'the cluster nodes (CLUSTER=swarm): status, availability, heartbeat, reservations, sandboxes (needs the admin key)',
    )
    .action(async (_flags: unknown, command: Command) => {
      const ctx = contextOf(command);
      const list = await ctx.client.nodes.list();
      ctx.print(list, () => describeNodes(list));
    });
}
