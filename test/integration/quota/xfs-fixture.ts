// @app/config's DTO decorators need the Reflect metadata polyfill before anything imports it.
import 'reflect-metadata';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const SCRIPT = join(__dirname, '..', '..', '..', 'scripts', 'xfs-test-mount.sh');
export const run = promisify(execFile);

/**
 * Why a loop-mounted XFS cannot be made here, or null when it can. Checked before any test runs
 * and without side effects, so that only a machine that truly cannot mount skips; a mount that
 * fails on a capable machine fails the suite instead.
 */
export function xfsUnavailableReason(): string | null {
  if (process.getuid?.() !== 0) return 'not running as root: loop mounts need root';
  if (!existsSync('/dev/loop-control')) return 'no /dev/loop-control: loop devices unavailable';
  const builtIn = /\bxfs\b/.test(readFileSync('/proc/filesystems', 'utf8'));
  if (!builtIn && spawnSync('modinfo', ['xfs'], { stdio: 'ignore' }).status !== 0) {
    return 'the kernel has no XFS (not in /proc/filesystems, no xfs module)';
  }
  return null;
}

export interface XfsMount {
  base: string;
  mountPoint: string;
  teardown(): Promise<void>;
}

/** A fresh XFS under a temporary dir, made by scripts/xfs-test-mount.sh. */
export async function mountTestXfs(): Promise<XfsMount> {
  const base = await mkdtemp(join(tmpdir(), 'quota-int-'));
  const work = join(base, 'work');
  const target = join(base, 'mnt');
  const { stdout, stderr } = await run('bash', [SCRIPT, work, target], { timeout: 180_000 });
  console.log(`xfs-test-mount.sh said:\n${stderr.trim()}`);
  return {
    base,
    mountPoint: stdout.trim().split('\n').pop() ?? target,
    teardown: async () => {
      await run('bash', [SCRIPT, '--teardown', work, target], { timeout: 60_000 });
      await rm(base, { recursive: true, force: true });
    },
  };
}

/** The project id of a path, read with xfs_io directly (not through the code under test). */
export async function lsproj(path: string): Promise<number> {
  const { stdout } = await run('xfs_io', ['-r', '-c', 'lsproj', path]);
  const match = /projid = (\d+)/.exec(stdout);
  if (match === null) throw new Error(`xfs_io lsproj ${path}: ${stdout}`);
  return Number(match[1]);
}

/** The mount options of a mount point as the kernel lists them in /proc/self/mounts. */
export function mountOptions(mountPoint: string): string[] {
  const line = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((fields) => fields[1] === mountPoint)
    .pop();
  return line?.[3]?.split(',') ?? [];
}
