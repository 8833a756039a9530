import { CodedError } from '@app/domain';
import { realpath } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CommandRunner } from './command-runner';
import type { MountEntry, MountTable } from './mount-table';

/**
 * The log dir is bind-mounted into the sandbox, where root can write anything into it: a setuid
 * binary, device nodes, FIFOs. Docker's bind options cannot say nosuid/nodev/noexec, and its local
 * volume driver only applies them from Engine 25 on (20.10 here mounts `o=bind,nosuid,…` without
 * them: checked with /proc/self/mountinfo). So LOG_ROOT is made a mount of its own, once (bind
 * onto itself, then remount with the flags). A bind mount copies the flags of the mount its source
 * lies on, also for a subdirectory, so Docker's bind of LOG_ROOT/<id> carries them into the sandbox
 * (checked with /proc/self/mountinfo in a container: `… /logs rw,nosuid,nodev,noexec`), and host
 * users and readers of LOG_ROOT/<id> reach it through the same mount. One mount for all sandboxes:
 * nothing to mount on create, nothing to unmount on delete, nothing a crash between steps can
 * leave behind. It stays when sandboxd stops (containers may be started again meanwhile). This
 * needs sandboxd to share the engine's mount namespace (it runs as root on the host, next to
 * dockerd); a failure to mount fails the create rather than mounting the directory unprotected.
 */
export const LOG_DIR_MOUNT_FLAGS = ['nosuid', 'nodev', 'noexec'] as const;
const MOUNT_TIMEOUT_MS = 10_000;
/** How long a replica waits for another one hardening the same LOG_ROOT (flock -w, seconds). */
const LOCK_WAIT_SECONDS = 10;

/**
 * Run under an flock on LOG_ROOT itself, so replicas sharing it (or two processes starting at
 * once) never stack a second bind: whoever comes second finds the mount point. The path is the
 * script's `$1`, never part of the script text.
 *
 * Not yet a mount point (sandboxd on the host): bind onto itself, then remount with the flags.
 * Already one (sandboxd in a container, LOG_ROOT an rshared bind from the host, as in
 * docker-compose.yml): the remount flags it here, but a remount does not propagate, and dockerd
 * resolves the binds on the host. So, when it is shared, it is then bound onto itself once more:
 * a bind copies the flags of its source, now set, and that mount propagates to the host's side
 * with them (checked with mountinfo on both sides; the per-dir mounts before this missed it).
 */
const FLAGS = LOG_DIR_MOUNT_FLAGS.join(',');
export const HARDEN_SCRIPT = [
  `if mountpoint -q "$1"; then`,
  `mount -o remount,bind,${FLAGS} "$1";`,
  `if findmnt -n -r -o PROPAGATION --mountpoint "$1" | tail -n 1 | grep -q shared; then mount --bind "$1" "$1"; fi;`,
  `else mount --bind "$1" "$1"; mount -o remount,bind,${FLAGS} "$1"; fi`,
].join(' ');

/** The topmost mount at exactly `dir`, if any (the mount table lists stacked mounts in order). */
function mountAt(entries: readonly MountEntry[], dir: string): MountEntry | null {
  let found: MountEntry | null = null;
  for (const entry of entries) if (entry.target === dir) found = entry;
  return found;
}

function hardenedAt(entries: readonly MountEntry[], dir: string): boolean {
  const current = mountAt(entries, dir);
  return current !== null && LOG_DIR_MOUNT_FLAGS.every((flag) => current.options.includes(flag));
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

/**
 * Makes the existing directory `root` (LOG_ROOT) a nosuid,nodev,noexec mount of itself.
 * Idempotent, and cheap when done: one read of the mount table, no process. The mount table names
 * real paths, so the root is resolved first (a symlinked parent would otherwise never match and
 * each call would stack another mount). Mounts an earlier build made at LOG_ROOT/<id> are released
 * first: a bind of the root would hide them under it, where no path reaches them any more. Their
 * sandboxes keep their own copies, flags included, and the root's mount covers the host side.
 */
export async function hardenLogRootMount(
  runner: CommandRunner,
  mounts: MountTable,
  root: string,
): Promise<void> {
  const real = await realpath(root);
  const entries = await mounts.entries();
  if (hardenedAt(entries, real)) return;
  const stale = new Set(entries.filter((e) => dirname(e.target) === real).map((e) => e.target));
  for (const dir of stale) await releaseLogDirMount(runner, mounts, dir);
  const what = `cannot mount log root ${real} ${LOG_DIR_MOUNT_FLAGS.join(',')}`;
  const lock = ['flock', '-w', String(LOCK_WAIT_SECONDS), real];
  await mustRun(runner, [...lock, 'sh', '-euc', HARDEN_SCRIPT, 'sh', real], what);
  if (!hardenedAt(await mounts.entries(), real)) {
    throw new CodedError('CONTAINER_FAILED', `${what}: the mount table does not show the flags`, {
      reason: 'log-dir-mount',
    });
  }
}

/**
 * Unmounts every mount stacked at `dir` (lazily if still busy). Only a log dir an earlier build
 * made a mount of its own has any; this build never mounts one.
 */
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
