import { Command } from 'commander';
import type { Sandbox, SandboxView } from '@app/sdk';
import { contextOf } from '../context';
import { stateText } from '../format';

/** stop, restart, keepalive: one call on the sandbox, then its id and new state. */
function stateCommand(
  name: string,
  description: string,
  act: (sandbox: Sandbox) => Promise<SandboxView>,
): Command {
  return new Command(name)
    .description(description)
    .argument('<id>', 'sandbox id or name')
    .action(async (id: string, _flags: unknown, command: Command) => {
      const ctx = contextOf(command);
      const view = await act(ctx.client.sandbox(id));
      ctx.print(view, () => `${view.id} ${stateText(view)}`);
    });
}

export function lifecycleCommands(): Command[] {
  return [
    stateCommand('stop', 'stop a sandbox, keeping its container and files', (s) => s.stop()),
    stateCommand('restart', 'start a stopped sandbox again', (s) => s.restart()),
    stateCommand('keepalive', 'count as activity: push the idle deadline out', (s) =>
      s.keepAlive(),
    ),
    new Command('rm')
      .description('delete a sandbox for good')
      .argument('<id>', 'sandbox id or name')
      .option('-f, --force', 'stop a live sandbox first')
      .action(async (id: string, flags: { force?: boolean }, command: Command) => {
        const ctx = contextOf(command);
        await ctx.client.sandbox(id).delete({ force: flags.force === true });
        ctx.print({ id, deleted: true }, () => id);
      }),
  ];
}
