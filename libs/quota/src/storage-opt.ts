import { mountOf, projectQuotaMode, type MountEntry } from './mount-table';

/** The fields of Docker's `GET /info` (dockerode `docker.info()`) this check reads. */
export interface DockerStorageInfo {
  Driver?: string;
  /** Pairs such as `["Backing Filesystem", "xfs"]`. */
  DriverStatus?: ReadonlyArray<readonly string[]> | null;
  DockerRootDir?: string;
}

export interface StorageOptSupport {
  supported: boolean;
  reason: string;
}

const DEFAULT_DATA_ROOT = '/var/lib/docker';

/**
 * Whether `--storage-opt size=` will be honoured: Docker's overlay2 driver sets a project quota on
 * each container's upper dir only when its backing file system is XFS mounted with project quota
 * enforced. Without that, `docker create` with a size fails outright, so the caller must know
 * before asking. Pure: the engine info and the host's mount table come in as arguments.
 * (The containerd image store is not covered: it ignores the option.)
 */
export function detectStorageOptSupport(
  info: DockerStorageInfo,
  mounts: readonly MountEntry[],
): StorageOptSupport {
  if (info.Driver !== 'overlay2') {
    return no(`storage driver is ${info.Driver ?? 'unknown'}, not overlay2`);
  }
  const backing = (info.DriverStatus ?? []).find(([key]) => key === 'Backing Filesystem')?.[1];
  if (backing?.toLowerCase() !== 'xfs') {
    return no(`overlay2 backing file system is ${backing ?? 'not reported'}, not xfs`);
  }
  const dataRoot = info.DockerRootDir ?? DEFAULT_DATA_ROOT;
  const mount = mountOf(mounts, dataRoot);
  if (mount === null || mount.fstype !== 'xfs') {
    // Docker says XFS but this process sees something else: another mount namespace.
    return no(`data root ${dataRoot} is not on an XFS mount visible to this process`);
  }
  const mode = projectQuotaMode(mount.options);
  switch (mode) {
    case 'enforced':
      return { supported: true, reason: `overlay2 on xfs ${mount.target} mounted with prjquota` };
    case 'accounting-only':
      return no(`${mount.target} accounts project quota but does not enforce it (pqnoenforce)`);
    case 'off':
      return no(`${mount.target} is mounted without prjquota/pquota`);
  }
}

function no(reason: string): StorageOptSupport {
  return { supported: false, reason };
}
