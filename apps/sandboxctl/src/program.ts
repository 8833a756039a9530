import { Command } from 'commander';
import { DEFAULT_URL } from './context';
import { cpCommand } from './commands/cp';
import { createCommand } from './commands/create';
import { eventsCommand } from './commands/events';
import { execCommand } from './commands/exec';
import { getCommand, portsCommand } from './commands/inspect';
import { keysCommand } from './commands/keys';
import { lifecycleCommands } from './commands/lifecycle';
import { listCommand } from './commands/list';
import { tenantsCommand } from './commands/tenants';
import { nodesCommand } from './commands/nodes';
import { reportError } from './errors';

export const VERSION = '0.1.0';

export function buildProgram(): Command {
  const program = new Command('sandboxctl')
    .description('manage sandboxd sandboxes')
    .version(VERSION)
    .option('--json', 'print JSON answers (for scripts)')
    .option('--url <url>', `service URL (default: $SANDBOXD_URL or ${DEFAULT_URL})`);
  const commands = [
    createCommand(),
    listCommand(),
    getCommand(),
    ...lifecycleCommands(),
    execCommand(),
    cpCommand(),
    portsCommand(),
    tenantsCommand(),
    nodesCommand(),
    keysCommand(),
    eventsCommand(),
  ];
  for (const command of commands) program.addCommand(command);
  // Throw instead of exiting, everywhere, so every failure goes through one exit-status policy.
  for (const command of withSubcommands(program)) {
    command.exitOverride().showHelpAfterError(`(run ${command.name()} --help for usage)`);
  }
  return program;
}

/** A command and every command under it (`tenants limits` is two deep). */
function withSubcommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(withSubcommands)];
}

/** Runs the CLI and answers its exit status: the command's, 1 on failure, 2 on a usage error. */
export async function run(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (error) {
    return reportError(error, process.stderr);
  }
}
