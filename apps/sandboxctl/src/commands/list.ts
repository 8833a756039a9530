import { Command } from 'commander';
import type { SandboxState, SandboxView } from '@app/sdk';
import { contextOf } from '../context';
import { ago, collect, keyValues, portsText, stateText, table } from '../format';
import { UsageError } from '../errors';

const STATES: readonly SandboxState[] = ['pending', 'running', 'stopped', 'deleted'];

interface ListFlags {
  state?: string[];
  label?: string[];
  all?: boolean;
  tenant?: string;
}

function states(values: string[] | undefined): SandboxState[] | undefined {
  if (!values) return undefined;
  return values.map((value) => {
    const state = STATES.find((s) => s === value);
    if (!state) throw new UsageError(`--state must be one of ${STATES.join(', ')}`);
    return state;
  });
}

export function listCommand(): Command {
  return new Command('ls')
    .description('list sandboxes (all pages)')
    .option('--state <state>', `only in this state (repeatable): ${STATES.join(', ')}`, collect)
    .option('--label <key=value>', 'only with this label (repeatable, all must match)', collect)
    .option('--all', 'include deleted sandboxes')
    .option('--tenant <tenant>', "only this tenant's (admin key; a tenant key lists its own)")
    .action(async (flags: ListFlags, command: Command) => {
      const ctx = contextOf(command);
      const views: SandboxView[] = [];
      const query = {
        state: states(flags.state),
        labels: keyValues(flags.label, '--label'),
        includeDeleted: flags.all === true,
        tenant: flags.tenant,
        limit: 500,
      };
      for await (const view of ctx.client.list(query)) views.push(view);
      ctx.print(views, () =>
        table(
          ['ID', 'NAME', 'STATE', 'IMAGE', 'PORTS', 'CREATED'],
          views.map((v) => [
            v.id,
            v.name ?? '',
            stateText(v),
            v.image,
            portsText(v),
            ago(v.createdAt),
          ]),
        ),
      );
    });
}
