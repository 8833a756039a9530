import { Command } from 'commander';
import type { SandboxView } from '@app/sdk';
import { contextOf } from '../context';
import { portsText, stateText, table } from '../format';

/** The fields a person looks at first, one per line; --json has everything. */
function describe(view: SandboxView): string {
  const rows: [string, string | number | boolean | null][] = [
    ['id', view.id],
    ['name', view.name],
    ['state', stateText(view)],
    ['image', view.image],
    ['cpus', view.cpus],
    ['memory', view.memory],
    ['runtime', view.runtime],
    ['network', view.network],
    ['ports', portsText(view) || null],
    ['host', view.host],
    [
      'labels',
      Object.entries(view.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ') || null,
    ],
    ['env', view.envKeys.join(', ') || null],
    ['protected', view.protected],
    ['from pool', view.fromPool],
    ['created', view.createdAt],
    ['started', view.startedAt],
    ['stopped', view.stoppedAt],
    ['auto-stop', view.autoStopAt],
    ['auto-delete', view.autoDeleteAt],
    ['failure', view.failureReason],
  ];
  return rows
    .filter(([, value]) => value !== null)
    .map(([key, value]) => `${`${key}:`.padEnd(13)}${String(value)}`)
    .join('\n');
}

export function getCommand(): Command {
  return new Command('get')
    .description('show a sandbox (by id or name)')
    .argument('<id>', 'sandbox id or name')
    .action(async (id: string, _flags: unknown, command: Command) => {
      const ctx = contextOf(command);
      const sandbox = await ctx.client.get(id);
      ctx.print(sandbox.info, () => describe(sandbox.info));
    });
}

export function portsCommand(): Command {
  return new Command('ports')
    .description('show published ports: container port → host address and port')
    .argument('<id>', 'sandbox id or name')
    .action(async (id: string, _flags: unknown, command: Command) => {
      const ctx = contextOf(command);
      const ports = await ctx.client.sandbox(id).ports();
      ctx.print(ports, () =>
        table(
          ['CONTAINER', 'HOST'],
          ports.map((p) => [String(p.containerPort), `${p.hostAddress}:${p.hostPort}`]),
        ),
      );
    });
}
