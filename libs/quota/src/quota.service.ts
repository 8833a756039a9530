import { CodedError, describeError } from '@app/domain';
import { Injectable } from '@nestjs/common';
import { stat } from 'node:fs/promises';
import { dirname, isAbsolute } from 'node:path';
import { CommandRunner, requireSuccess } from './command-runner';
import { detectEnforcement } from './enforcement';
import { ensureLogDir, logDirPath, removeLogDir, secureLogRoot } from './log-dir';
import { hardenLogRootMount, releaseLogDirMount } from './log-dir-mount';
import { MountTable } from './mount-table';
import {
  detectStorageOptSupport,
  type DockerStorageInfo,
  type StorageOptSupport,
} from './storage-opt';
import type { Enforcement, LogDirQuota, RootfsProject } from './types';
import { parseFindmnt, parseLsproj, type MountOfPath } from './xfs-output';

/**
 * How long a look at the mount table that found LOG_ROOT hardened is trusted. A burst of creates
 * read /proc/self/mounts (which grows with every container's mounts) once per create, while the
 * engine was adding mounts of its own; one look now serves the whole burst. The mount is undone
 * only by a reboot (which restarts sandboxd) or by hand, so the cost is a window this long after
 * a manual umount.
 */
export const HARDENED_FRESH_MS = 2_000;

/** Each tool call is a metadata operation on one directory; seconds mean a hung file system. */
export const QUOTA_COMMAND_TIMEOUT_MS = 10_000;

/**
 * xfs_quota re-splits its `-c` command on whitespace and has no quoting, so a path with a space
 * (or a quote or backslash, whose meaning to it is undocumented) would name the wrong directory.
 * Such paths are refused rather than escaped. Absolute only, so no path can read as an option.
 */
const QUOTA_SAFE_PATH = /^\/[^\s'"\\]*$/;

/**
 * One disk budget per sandbox. With `--storage-opt size=`, Docker gives the container's overlay2
 * upper dir an XFS project id with a hard block limit. Between `docker create` and `docker start`,
 * the sandbox's log dir joins that same project, so rootfs and log writes draw on one limit.
 *
 * This service never runs `limit -p` (the limit is Docker's; a second writer would clobber it) and
 * never allocates an id of its own. Cleanup is Docker's too: `docker rm` drops the upper dir and
 * clears the id's limit; the log dir keeps the stale id, now unlimited. Docker picks its next id
 * from the highest one under its data root when the daemon starts, so after a restart it may hand
 * that id to a new container: a log dir that outlives its container belongs in removeLogDir.
 * Every failure is soft: the log dir is then unbounded, and the reason says why.
 */
@Injectable()
export class QuotaService {
  /** Hardening of a log root in flight, so concurrent creates share one mount table read. */
  private readonly hardening = new Map<string, Promise<void>>();
  /** When each root's mount was last seen hardened (one LOG_ROOT, so one entry). */
  private readonly hardenedAt = new Map<string, number>();

  constructor(
    private readonly runner: CommandRunner,
    private readonly mounts: MountTable,
  ) {}

  /** The XFS project id of a file or directory (`xfs_io -r -c lsproj`). Throws on failure. */
  async projectIdOf(path: string): Promise<number> {
    const args = ['-r', '-c', 'lsproj', requireAbsolute(path)];
    const { stdout } = requireSuccess(await this.exec('xfs_io', args), 'xfs_io', args);
    const id = parseLsproj(stdout);
    if (id === null) throw new CodedError('INTERNAL_ERROR', `xfs_io lsproj: unreadable output`);
    return id;
  }

  /**
   * The project Docker assigned to a container's upper dir (`GraphDriver.Data.UpperDir`, which only
   * exists after `docker create`) and the XFS mount it lives on; otherwise why there is none.
   */
  async rootfsProject(upperDir: string): Promise<RootfsProject> {
    try {
      const mount = await this.mountOfPath(upperDir);
      if (mount.fstype !== 'xfs') {
        return {
          reason: `upper dir ${upperDir} is on file system ${mount.fstype} (mount ${mount.target}), not XFS: no project quota`,
        };
      }
      const projectId = await this.projectIdOf(upperDir);
      if (projectId === 0) {
        return {
          reason: `upper dir ${upperDir} has project id 0: Docker set no quota (no --storage-opt size?)`,
        };
      }
      return { projectId, mountPoint: mount.target };
    } catch (error) {
      return {
        reason: `cannot read the project of upper dir ${upperDir}: ${describeError(error)}`,
      };
    }
  }

  /**
   * Binds the log dir to the upper dir's project when both are on the same XFS mount: `xfs_quota
   * project -s` sets the id on the tree and the inherit flag, so files created later inherit it.
   * Never throws.
   */
  async shareWithLogDir(upperDir: string, logDir: string): Promise<LogDirQuota> {
    try {
      if (!QUOTA_SAFE_PATH.test(logDir)) {
        return notShared(
          `log dir ${JSON.stringify(logDir)} must be absolute, without spaces or quotes`,
        );
      }
      const rootfs = await this.rootfsProject(upperDir);
      if ('reason' in rootfs) return notShared(rootfs.reason);
      const { projectId, mountPoint } = rootfs;
      const logMount = await this.mountOfPath(logDir);
      // The same file system, not necessarily the same mount: the log dir is reached through
      // LOG_ROOT's own bind mount (log-dir-mount.ts), which findmnt names instead of the XFS
      // mount it lies on. A bind keeps the device number; xfs_quota finds a -p path's file
      // system by device too.
      if (logMount.target !== mountPoint && !(await this.mounts.sameDevice(logDir, mountPoint))) {
        return notShared(
          `log dir ${logDir} is on ${logMount.target} (${logMount.fstype}), not on the upper dir's XFS mount ${mountPoint}`,
        );
      }
      const args = ['-x', '-c', `project -s -p ${logDir} ${projectId}`, mountPoint];
      const result = requireSuccess(await this.exec('xfs_quota', args), 'xfs_quota', args);
      // xfs_quota exits 0 even when it could not set up the path, so the id is read back.
      const actual = await this.projectIdOf(logDir);
      if (actual !== projectId) {
        const said = result.stderr.trim() || result.stdout.trim();
        return notShared(
          `log dir ${logDir} has project ${actual} after xfs_quota, not ${projectId}: ${said}`,
        );
      }
      return { shared: true, projectId, mountPoint };
    } catch (error) {
      return notShared(`cannot share the project with log dir ${logDir}: ${describeError(error)}`);
    }
  }

  /** Whether project quota is enforced on a mount (see enforcement.ts). Never throws. */
  detectEnforcement(mountPoint: string): Promise<Enforcement> {
    return detectEnforcement(this.runner, this.mounts, mountPoint, QUOTA_COMMAND_TIMEOUT_MS);
  }

  /** `detectStorageOptSupport` against this host's mount table. */
  async detectStorageOptSupport(info: DockerStorageInfo): Promise<StorageOptSupport> {
    try {
      return detectStorageOptSupport(info, await this.mounts.entries());
    } catch (error) {
      return { supported: false, reason: `cannot read the mount table: ${describeError(error)}` };
    }
  }

  ensureLogDir(root: string, sandboxId: string): Promise<string> {
    return ensureLogDir(root, sandboxId);
  }

  /**
   * Start-up: see secureLogRoot (throws to refuse), then, when LOG_ROOT exists, its
   * nosuid,nodev,noexec mount (log-dir-mount.ts); a root that does not exist yet gets it with its
   * first log dir (secureLogDir). Null when all was fine, else what was tightened and why the
   * mount could not be made: that is not fatal here, since every create and restart asks again
   * and fails rather than start a sandbox on an unprotected dir.
   */
  async secureLogRoot(root: string): Promise<string | null> {
    const notes = [await secureLogRoot(root)];
    if (await isDirectory(root)) {
      try {
        await this.hardenRoot(root);
      } catch (error) {
        notes.push(`${describeError(error)}; creates and restarts fail until it can be mounted`);
      }
    }
    return notes.filter((note) => note !== null).join('; ') || null;
  }

  /**
   * Makes sure the log dir is reached only through LOG_ROOT's nosuid,nodev,noexec mount, before
   * Docker binds it (log-dir-mount.ts). Called before every start: the mount does not survive a
   * reboot and could be undone by hand. Once done it costs one read of the mount table, at most
   * one per HARDENED_FRESH_MS.
   */
  secureLogDir(dir: string): Promise<void> {
    return this.hardenRoot(dirname(dir));
  }

  /**
   * Deletes the log dir with everything in it (never following a link). Nothing to unmount: the
   * protection is LOG_ROOT's mount. Only a log dir an earlier build made a mount of its own (and
   * that start-up could not release) is busy; it is unmounted then.
   */
  async removeLogDir(root: string, sandboxId: string): Promise<void> {
    try {
      await removeLogDir(root, sandboxId);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EBUSY') throw error;
      await releaseLogDirMount(this.runner, this.mounts, logDirPath(root, sandboxId));
      await removeLogDir(root, sandboxId);
    }
  }

  private hardenRoot(root: string): Promise<void> {
    const verified = this.hardenedAt.get(root);
    if (verified !== undefined && Date.now() - verified < HARDENED_FRESH_MS) {
      return Promise.resolve();
    }
    const inFlight = this.hardening.get(root);
    if (inFlight) return inFlight;
    const done = hardenLogRootMount(this.runner, this.mounts, root)
      .then(() => {
        this.hardenedAt.set(root, Date.now());
      })
      .finally(() => this.hardening.delete(root));
    this.hardening.set(root, done);
    return done;
  }

  private async mountOfPath(path: string): Promise<MountOfPath> {
    const args = ['-n', '-o', 'TARGET,FSTYPE', '--target', requireAbsolute(path)];
    const result = await this.exec('findmnt', args);
    // findmnt says nothing when it finds nothing, which for --target means a missing path.
    if (result.exitCode === 1 && result.stderr.trim() === '') {
      throw new CodedError('INTERNAL_ERROR', `findmnt found no mount for ${path} (does it exist?)`);
    }
    const { stdout } = requireSuccess(result, 'findmnt', args);
    const mount = parseFindmnt(stdout);
    if (mount === null) throw new CodedError('INTERNAL_ERROR', `findmnt: unreadable output`);
    return mount;
  }

  private exec(file: string, args: string[]): ReturnType<CommandRunner['run']> {
    return this.runner.run(file, args, { timeoutMs: QUOTA_COMMAND_TIMEOUT_MS });
  }
}

function requireAbsolute(path: string): string {
  if (!isAbsolute(path)) throw new CodedError('INTERNAL_ERROR', `not an absolute path: ${path}`);
  return path;
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() ?? false;
}

function notShared(reason: string): LogDirQuota {
  return { shared: false, reason };
}
