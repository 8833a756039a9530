import { createWriteStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { finished } from 'node:stream/promises';
import { Command } from 'commander';
import type { SandboxdClient } from '@app/sdk';
import { Context, contextOf } from '../context';
import { UsageError } from '../errors';

/**
 * `<id or name>:<path>`. The id part cannot contain "/", so ./a:b or /x:y stay local; the path is
 * left to the service to check (absolute, no escape), so its answer is the one the user sees.
 */
const REMOTE = /^([A-Za-z0-9][A-Za-z0-9_.-]*):(.+)$/;

interface Remote {
  sandbox: string;
  path: string;
}

function remoteOf(spec: string): Remote | null {
  const match = REMOTE.exec(spec);
  return match ? { sandbox: match[1], path: match[2] } : null;
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() ?? false;
}

async function upload(client: SandboxdClient, local: string, to: Remote): Promise<unknown> {
  const data = local === '-' ? await readAll(process.stdin) : await readFile(local);
  // A local file keeps its permission bits (an executable stays executable); stdin gets 0644.
  const mode = local === '-' ? 0o644 : (await stat(local)).mode & 0o777;
  const path = to.path.endsWith('/') ? to.path + basename(local) : to.path;
  return client.sandbox(to.sandbox).writeFile(path, data, { mode });
}

async function download(ctx: Context, from: Remote, local: string): Promise<unknown> {
  const data = await ctx.client.sandbox(from.sandbox).readFile(from.path);
  if (local === '-') {
    ctx.stdout.write(data);
    return { path: from.path, size: data.byteLength };
  }
  const target = (await isDirectory(local)) ? join(local, basename(from.path)) : local;
  const out = createWriteStream(target);
  out.end(data);
  await finished(out);
  return { path: target, size: data.byteLength };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

export function cpCommand(): Command {
  return new Command('cp')
    .description('copy a file into or out of a sandbox ("-" is stdin or stdout)')
    .argument('<src>', 'local path, or <id>:/path')
    .argument('<dst>', 'local path, or <id>:/path (a trailing / keeps the file name)')
    .action(async (src: string, dst: string, _flags: unknown, command: Command) => {
      const ctx = contextOf(command);
      const [from, to] = [remoteOf(src), remoteOf(dst)];
      let result: unknown;
      if (to && !from) result = await upload(ctx.client, src, to);
      else if (from && !to) result = await download(ctx, from, dst);
      else throw new UsageError('exactly one of <src> and <dst> must be <id>:/path');
      // Downloads to stdout print nothing else: the bytes are the output.
      if (dst !== '-') ctx.print(result, () => '');
    });
}
