import { Command, InvalidArgumentError } from 'commander';
import ora from 'ora';
import { SandboxdError, type CreateSandboxRequest, type SandboxNetwork } from '@app/sdk';
import { contextOf } from '../context';
import { collect, integer, integers, keyValues } from '../format';

interface CreateFlags {
  name?: string;
  cpus?: number;
  memory?: string;
  env?: string[];
  label?: string[];
  port?: number[];
  runtime?: string;
  network?: SandboxNetwork;
  idleTimeout?: number;
  autoDelete?: number;
  wait?: boolean;
}

const NETWORKS: readonly SandboxNetwork[] = ['bridge', 'none'];

function network(value: string): SandboxNetwork {
  const known = NETWORKS.find((name) => name === value);
  if (known === undefined) throw new InvalidArgumentError(`must be one of ${NETWORKS.join(', ')}`);
  return known;
}

function cpus(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number such as 0.5');
  return n;
}

export function createCommand(): Command {
  return new Command('create')
    .description('create a sandbox from an image and print its id')
    .argument('<image>', 'image reference, e.g. sandboxd/demo:latest')
    .option('--name <name>', 'unique name (letters, digits, _ . -)')
    .option('--cpus <n>', 'CPU limit, e.g. 0.5', cpus)
    .option('--memory <size>', 'memory limit, e.g. 512m or 2g')
    .option('--env <KEY=VALUE>', 'environment variable (repeatable)', collect)
    .option('--label <key=value>', 'label (repeatable)', collect)
    .option('--port <port>', 'container TCP port to publish (repeatable)', integers(1, 65535))
    .option('--runtime <name>', 'OCI runtime from ALLOWED_RUNTIMES, e.g. runsc')
    .option(
      '--network <mode>',
      "bridge (default: sandboxd's network, no traffic between sandboxes) or none",
      network,
    )
    .option(
      '--idle-timeout <seconds>',
      'stop after this long without activity (0 = never)',
      integer(0),
    )
    .option('--auto-delete <seconds>', 'delete this long after stop (-1 = never)', integer(-1))
    .option('--wait', 'wait until it is running (or has failed)')
    .action(async (image: string, flags: CreateFlags, command: Command) => {
      const ctx = contextOf(command);
      const body: CreateSandboxRequest = {
        image,
        name: flags.name,
        cpus: flags.cpus,
        memory: flags.memory,
        env: keyValues(flags.env, '--env'),
        labels: keyValues(flags.label, '--label'),
        ports: flags.port,
        runtime: flags.runtime,
        network: flags.network,
        idleTimeoutSeconds: flags.idleTimeout,
        autoDeleteSeconds: flags.autoDelete,
      };
      // A spinner is for people watching; JSON output and pipes get nothing but the answer.
      const spinner =
        flags.wait && !ctx.json && ctx.stderr.isTTY
          ? ora({ text: `starting ${image}`, stream: ctx.stderr }).start()
          : null;
      try {
        const sandbox = await ctx.client.create(body, { wait: flags.wait === true });
        const view = sandbox.info;
        // With --wait, a sandbox that settled as stopped did not start: that is a failure.
        if (flags.wait && view.state !== 'running') {
          spinner?.fail(`${view.id} did not start`);
          if (ctx.json) ctx.print(view, () => '');
          throw new SandboxdError(
            0,
            'START_FAILED',
            view.failureReason ?? `sandbox ${view.id} is ${view.state}`,
          );
        }
        spinner?.succeed(`${view.id} running`);
        ctx.print(view, () => view.id);
      } catch (error) {
        if (spinner?.isSpinning) spinner.stop();
        throw error;
      }
    });
}
