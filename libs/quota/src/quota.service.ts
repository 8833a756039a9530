import { CodedError, describeError } from '@app/domain';
import { Injectable } from '@nestjs/common';
import { isAbsolute } from 'node:path';
import { CommandRunner, requireSuccess } from './command-runner';
import { detectEnforcement } from './enforcement';
import { ensureLogDir, logDirPath, removeLogDir, secureLogRoot } from './log-dir';
import { hardenLogDirMount, releaseLogDirMount } from './log-dir-mount';
import { MountTable } from './mount-table';
import {
  detectStorageOptSupport,
  type DockerStorageInfo,
  type StorageOptSupport,
} from './storage-opt';
import type { Enforcement, LogDirQuota, RootfsProject } from './types';
import { parseFindmnt, parseLsproj, type MountOfPath } from './xfs-output';

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
      if (logMount.target !== mountPoint) {
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

  /** See secureLogRoot: null when LOG_ROOT was fine, else what was tightened. Throws to refuse. */
  secureLogRoot(root: string): Promise<string | null> {
    return secureLogRoot(root);
  }

  /** Makes the log dir a nosuid,nodev,noexec mount of itself (log-dir-mount.ts). Idempotent. */
  secureLogDir(dir: string): Promise<void> {
    return hardenLogDirMount(this.runner, this.mounts, dir);
  }

  /** Unmounts the log dir's own mount, then deletes it with everything in it (never following a link). */
  async removeLogDir(root: string, sandboxId: string): Promise<void> {
    await releaseLogDirMount(this.runner, this.mounts, logDirPath(root, sandboxId));
    return removeLogDir(root, sandboxId);
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

function notShared(reason: string): LogDirQuota {
  return { shared: false, reason };
}
