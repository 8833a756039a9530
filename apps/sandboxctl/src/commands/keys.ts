import { Command } from 'commander';
import { contextOf } from '../context';
import { ago, table } from '../format';

/**
 * `sandboxctl keys create|ls|revoke`: the tenants' API keys, through the admin API. Needs the
 * admin key in SANDBOXD_API_KEY.
 */
export function keysCommand(): Command {
  return new Command('keys')
    .description("manage the tenants' API keys (needs the admin key in SANDBOXD_API_KEY)")
    .addCommand(
      new Command('create')
        .description('make an API key for a tenant; the key is printed this once')
        .requiredOption('--tenant <tenant>', 'the tenant it belongs to (a DNS label: team-a)')
        .option('--name <name>', 'what the key is for', 'sandboxctl')
        .action(async (flags: { tenant: string; name: string }, command: Command) => {
          const ctx = contextOf(command);
          const made = await ctx.client.apiKeys.create({ tenant: flags.tenant, name: flags.name });
          ctx.print(made, () => made.key);
          if (!ctx.json) {
            ctx.stderr.write(
              `key ${made.id} for tenant ${made.tenant}: store it now, it is not shown again\n`,
            );
          }
        }),
    )
    .addCommand(
      new Command('ls')
        .description('list the keys not revoked (never a key, only its prefix)')
        .option('--tenant <tenant>', "only this tenant's keys")
        .action(async (flags: { tenant?: string }, command: Command) => {
          const ctx = contextOf(command);
          const keys = await ctx.client.apiKeys.list({ tenant: flags.tenant });
          ctx.print(keys, () =>
            table(
              ['ID', 'TENANT', 'NAME', 'PREFIX', 'CREATED', 'LAST USED'],
              keys.map((k) => [
                k.id,
                k.tenant,
                k.name,
                k.prefix,
                ago(k.createdAt),
                k.lastUsedAt ? ago(k.lastUsedAt) : 'never',
              ]),
            ),
          );
        }),
    )
    .addCommand(
      new Command('revoke')
        .description('revoke a key: every replica refuses it within 1 s')
        .argument('<id>', 'the key id (keys ls)')
        .action(async (id: string, _flags: unknown, command: Command) => {
          const ctx = contextOf(command);
          await ctx.client.apiKeys.revoke(id);
          ctx.print({ id, revoked: true }, () => id);
        }),
    );
}
