import { describeError } from '@app/domain';
import { requireSuccess, type CommandRunner } from './command-runner';
import { mountOf, projectQuotaMode, type MountTable } from './mount-table';
import type { Enforcement } from './types';
import { parseQuotaState } from './xfs-output';

/**
 * Whether project quota is enforced on a mount. XFS itself is asked first (`xfs_quota -x -c
 * 'state -p'`), because mount options can be stale on remounts; when it gives no answer, the
 * options in the mount table (`prjquota`/`pquota`) decide. Never throws: "not enforced" with a
 * reason is the safe answer when nothing can be read.
 */
export async function detectEnforcement(
  runner: CommandRunner,
  mounts: MountTable,
  mountPoint: string,
  timeoutMs: number,
): Promise<Enforcement> {
  const entry = await mounts.entries().then(
    (all) => mountOf(all, mountPoint),
    (error: unknown) => describeError(error),
  );
  if (typeof entry === 'string') {
    return { enforced: false, reason: `cannot read the mount table: ${entry}` };
  }
  if (entry === null || entry.fstype !== 'xfs') {
    return { enforced: false, reason: `${mountPoint} is not on an XFS mount` };
  }
  const options = entry.options.join(',');
  try {
    const args = ['-x', '-c', 'state -p', entry.target];
    const result = await runner.run('xfs_quota', args, { timeoutMs });
    const { stdout } = requireSuccess(result, 'xfs_quota', args);
    const state = parseQuotaState(stdout);
    if (state !== null) {
      const said = `accounting ${onOff(state.accounting)}, enforcement ${onOff(state.enforcement)}`;
      return { enforced: state.enforcement, reason: `${entry.target}: project quota ${said}` };
    }
    if (stdout.trim() === '') {
      // xfs_quota prints no state block for a quota type that is not enabled at all.
      return { enforced: false, reason: `${entry.target}: project quota not enabled (${options})` };
    }
  } catch {
    // No xfs_quota, or it failed: the mount options below are the next best witness.
  }
  const mode = projectQuotaMode(entry.options);
  return { enforced: mode === 'enforced', reason: `${entry.target} mount options: ${options}` };
}

function onOff(on: boolean): string {
  return on ? 'ON' : 'OFF';
}
