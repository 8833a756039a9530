import { CodedError } from '@app/domain';
import type { CommandRunner } from './command-runner';
import type { MountEntry, MountTable } from './mount-table';

/**
 * The log dir is bind-mounted into the sandbox, where root can write anything into it: a setuid
 * binary, device nodes, FIFOs. Docker's bind options cannot say nosuid/nodev/noexec, and its local
 * volume driver only applies them from Engine 25 on (20.10 here mounts `o=bind,nosuid,…` without
 * them: checked with /proc/self/mountinfo). So the host directory is made a mount of its own
 * (bind onto itself, then remount with the flags); Docker's bind of it inherits the flags, which
 * therefore hold both inside the sandbox and for host users and readers of LOG_ROOT/<id>. This
 * needs sandboxd to share the engine's mount namespace (it runs as root on the host, next to
 * dockerd); a failure to mount fails the create rather than mounting the directory unprotected.
 */
export const LOG_DIR_MOUNT_FLAGS = ['nosuid', 'nodev', 'noexec'] as const;
const MOUNT_TIMEOUT_MS = 10_000;

/** The topmost mount at exactly `dir`, if any (the mount table lists stacked mounts in order). */
function mountAt(entries: readonly MountEntry[], dir: string): MountEntry | null {
  let found: MountEntry | null = null;
  for (const entry of entries) if (entry.target === dir) found = entry;
  return found;
}

async function mustRun(runner: CommandRunner, args: string[], what: string): Promise<void> {
  const result = await runner.run(args[0], args.slice(1), { timeoutMs: MOUNT_TIMEOUT_MS });
  if (result.exitCode !== 0) {
    throw new CodedError(
      'CONTAINER_FAILED',
      `${what}: ${args.join(' ')} exited ${result.exitCode}: ${result.stderr.trim().slice(0, 500)}`,
      { reason: 'log-dir-mount' },
    );
  }
}

/** Makes `dir` a nosuid,nodev,noexec mount of itself. Idempotent. */
export async function hardenLogDirMount(
  runner: CommandRunner,
  mounts: MountTable,
  dir: string,
): Promise<void> {
  const current = mountAt(await mounts.entries(), dir);
  if (current && LOG_DIR_MOUNT_FLAGS.every((flag) => current.options.includes(flag))) return;
  const what = `cannot mount log dir ${dir} ${LOG_DIR_MOUNT_FLAGS.join(',')}`;
  if (!current) await mustRun(runner, ['mount', '--bind', dir, dir], what);
  await mustRun(
    runner,
    ['mount', '-o', `remount,bind,${LOG_DIR_MOUNT_FLAGS.join(',')}`, dir],
    what,
  );
}

/** Unmounts every mount stacked at `dir` (lazily if still busy), so the directory can go. */
export async function releaseLogDirMount(
  runner: CommandRunner,
  mounts: MountTable,
  dir: string,
): Promise<void> {
  // Bounded: a mount that cannot be undone must not loop forever.
  for (let i = 0; i < 8 && mountAt(await mounts.entries(), dir); i += 1) {
    const plain = await runner.run('umount', [dir], { timeoutMs: MOUNT_TIMEOUT_MS });
    if (plain.exitCode !== 0) {
      await mustRun(runner, ['umount', '-l', dir], `cannot unmount log dir ${dir}`);
    }
  }
}
