import { Command } from 'commander';
import type { SandboxEvent, SandboxEventType } from '@app/sdk';
import { contextOf } from '../context';
import { UsageError } from '../errors';
import { collect, table } from '../format';

const TYPES: readonly SandboxEventType[] = [
  'sandbox.created',
  'sandbox.running',
  'sandbox.stopped',
  'sandbox.restarted',
  'sandbox.deleted',
  'sandbox.failed',
  'sandbox.protection_changed',
];

interface EventsFlags {
  follow?: boolean;
  after?: string;
  type?: string[];
  sandbox?: string;
  limit?: string;
}

function types(values: string[] | undefined): SandboxEventType[] | undefined {
  if (!values) return undefined;
  return values.flatMap((value) =>
    value.split(',').map((part) => {
      const type = TYPES.find((t) => t === part || t === `sandbox.${part}`);
      if (!type) throw new UsageError(`--type must be one of ${TYPES.join(', ')}`);
      return type;
    }),
  );
}

/** One line per event: id, time, type, sandbox, what changed and who did it. */
export function eventLine(event: SandboxEvent): string[] {
  const what =
    event.type === 'sandbox.stopped'
      ? `${event.reason ?? ''}${event.detail && event.detail !== event.reason ? ` (${event.detail})` : ''}`
      : event.type === 'sandbox.protection_changed'
        ? `protected=${String(event.sandbox.protected)}`
        : (event.detail ?? '');
  const who =
    event.actor.kind === 'tenant' ? `tenant:${event.actor.tenant ?? ''}` : event.actor.kind;
  return [event.id, event.at, event.type.replace(/^sandbox\./, ''), event.sandboxId, what, who];
}

const HEADER = ['ID', 'AT', 'EVENT', 'SANDBOX', 'DETAIL', 'BY'];

export function eventsCommand(): Command {
  return new Command('events')
    .description('print lifecycle events (with --follow, as they happen)')
    .option('-f, --follow', 'keep printing new events until interrupted')
    .option('--after <id>', 'only events after this id (with --follow: resume from it)')
    .option('--type <type>', `only this type (repeatable): ${TYPES.join(', ')}`, collect)
    .option('--sandbox <id>', "only this sandbox's events")
    .option('--limit <n>', 'events per page (1-500)', '100')
    .action(async (flags: EventsFlags, command: Command) => {
      const ctx = contextOf(command);
      const limit = Number(flags.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
        throw new UsageError('--limit must be a whole number from 1 to 500');
      }
      const query = { after: flags.after, type: types(flags.type), sandbox: flags.sandbox, limit };
      if (!flags.follow) {
        const page = await ctx.client.events(query);
        ctx.print(page, () => table(HEADER, page.items.map(eventLine)));
        return;
      }
      const stop = new AbortController();
      const interrupt = (): void => stop.abort();
      process.once('SIGINT', interrupt);
      process.once('SIGTERM', interrupt);
      try {
        for await (const event of ctx.client.followEvents({ ...query, signal: stop.signal })) {
          // One line per event as it comes: JSON lines for scripts, tab-separated for people.
          ctx.stdout.write(
            ctx.json ? `${JSON.stringify(event)}\n` : `${eventLine(event).join('\t')}\n`,
          );
        }
      } finally {
        process.off('SIGINT', interrupt);
        process.off('SIGTERM', interrupt);
      }
    });
}
