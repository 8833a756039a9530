import { Command, InvalidArgumentError } from 'commander';
import type { TenantLimitsRequest, TenantView } from '@app/sdk';
import { contextOf } from '../context';

/**
 * `none` clears a limit; anything else goes through `parse`. Kept as the word until the action
 * (commander turns a parser's null into an empty string).
 */
function orNone<T>(parse: (value: string) => T): (value: string) => T | 'none' {
  return (value) => (value === 'none' ? 'none' : parse(value));
}

/** A flag's value as the request's: absent stays absent, `none` is null (clear the limit). */
function limitOf<T>(value: T | 'none' | undefined): T | null | undefined {
  return value === 'none' ? null : value;
}

const wholeNumber = (value: string): number => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a whole number, or none');
  return Number(value);
};

const cpuCount = (value: string): number => {
  if (!/^\d+(\.\d+)?$/.test(value)) throw new InvalidArgumentError('must be a number, or none');
  return Number(value);
};

/** The service checks the size (8g, 512m) and names the field when it is not one. */
const size = (value: string): string => value;

/** "used of limit", or "used (no limit)". */
function against(used: string | number, limit: string | number | null): string {
  return limit === null ? `${used} (no limit)` : `${used} of ${limit}`;
}

function describe(view: TenantView): string {
  const { limits, usage } = view;
  const rows: [string, string][] = [
    ['tenant', view.tenant],
    ['sandboxes', `${against(usage.sandboxes, limits.maxSandboxes)}, ${usage.liveSandboxes} live`],
    ['cpus', against(usage.cpus, limits.maxCpus)],
    ['memory', against(usage.memory, limits.maxMemory)],
    ['limits set', view.limitsUpdatedAt ?? 'never'],
  ];
  return rows.map(([key, value]) => `${`${key}:`.padEnd(13)}${value}`).join('\n');
}

interface LimitFlags {
  maxSandboxes?: number | 'none';
  maxCpus?: number | 'none';
  maxMemory?: string;
}

/**
 * The admin's tenants (admin key: SANDBOXD_API_KEY): `show` a tenant's limits and usage, set its
 * `limits`. A limit given as `none` is cleared; one not given is kept.
 */
export function tenantsCommand(): Command {
  const show = new Command('show')
    .description("show a tenant's limits and what it holds now")
    .argument('<tenant>', 'tenant name')
    .action(async (tenant: string, _flags: unknown, command: Command) => {
      const ctx = contextOf(command);
      const view = await ctx.client.tenants.get(tenant);
      ctx.print(view, () => describe(view));
    });
  const limits = new Command('limits')
    .description("set a tenant's limits (none clears one, one not given is kept); show them")
    .argument('<tenant>', 'tenant name')
    .option(
      '--max-sandboxes <n>',
      'most sandboxes held at once (stopped ones count)',
      orNone(wholeNumber),
    )
    .option('--max-cpus <n>', 'most CPUs of its sandboxes together', orNone(cpuCount))
    .option('--max-memory <size>', 'most memory of its sandboxes together, e.g. 16g', orNone(size))
    .action(async (tenant: string, flags: LimitFlags, command: Command) => {
      const ctx = contextOf(command);
      const change: TenantLimitsRequest = {};
      if (flags.maxSandboxes !== undefined) change.maxSandboxes = limitOf(flags.maxSandboxes);
      if (flags.maxCpus !== undefined) change.maxCpus = limitOf(flags.maxCpus);
      if (flags.maxMemory !== undefined) change.maxMemory = limitOf(flags.maxMemory);
      const view =
        Object.keys(change).length === 0
          ? await ctx.client.tenants.get(tenant)
          : await ctx.client.tenants.setLimits(tenant, change);
      ctx.print(view, () => describe(view));
    });
  return new Command('tenants')
    .description("the admin's tenants: limits and usage (needs the admin key)")
    .addCommand(show)
    .addCommand(limits);
}
