// @app/config's DTO decorators need the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { parseMounts } from './mount-table';
import { QuotaService } from './quota.service';
import { detectStorageOptSupport, type DockerStorageInfo } from './storage-opt';
import { FakeCommandRunner } from './testing/fake-command-runner';
import { FakeMountTable } from './testing/fake-mount-table';

const status = (backing: string): string[][] => [
  ['Backing Filesystem', backing],
  ['Supports d_type', 'true'],
];
const mounts = (line: string): ReturnType<typeof parseMounts> =>
  parseMounts(`/dev/vda1 / ext4 rw 0 0\n${line}\n`);

const XFS_PRJ = mounts('/dev/sdb1 /var/lib/docker xfs rw,inode64,prjquota 0 0');
const XFS_NOQUOTA = mounts('/dev/sdb1 /var/lib/docker xfs rw,inode64,noquota 0 0');
const XFS_ACCOUNT = mounts('/dev/sdb1 /var/lib/docker xfs rw,pqnoenforce 0 0');
const XFS_OTHER_ROOT = mounts('/dev/sdb1 /data/docker xfs rw,prjquota 0 0');

describe('detectStorageOptSupport', () => {
  const overlayXfs: DockerStorageInfo = { Driver: 'overlay2', DriverStatus: status('xfs') };

  it.each<[string, DockerStorageInfo, ReturnType<typeof parseMounts>, boolean, RegExp]>([
    ['overlay2 on xfs with prjquota', overlayXfs, XFS_PRJ, true, /prjquota/],
    [
      'custom data root',
      { ...overlayXfs, DockerRootDir: '/data/docker' },
      XFS_OTHER_ROOT,
      true,
      /\/data\/docker/,
    ],
    ['xfs without quota', overlayXfs, XFS_NOQUOTA, false, /without prjquota/],
    ['xfs accounting only', overlayXfs, XFS_ACCOUNT, false, /pqnoenforce/],
    [
      'backing extfs',
      { Driver: 'overlay2', DriverStatus: status('extfs') },
      XFS_PRJ,
      false,
      /extfs, not xfs/,
    ],
    [
      'no backing reported',
      { Driver: 'overlay2', DriverStatus: [] },
      XFS_PRJ,
      false,
      /not reported/,
    ],
    [
      'null DriverStatus',
      { Driver: 'overlay2', DriverStatus: null },
      XFS_PRJ,
      false,
      /not reported/,
    ],
    [
      'other driver',
      { Driver: 'btrfs', DriverStatus: status('xfs') },
      XFS_PRJ,
      false,
      /btrfs, not overlay2/,
    ],
    ['no driver', {}, XFS_PRJ, false, /unknown/],
    [
      'data root not on xfs here',
      overlayXfs,
      mounts('/dev/x /other xfs rw,prjquota 0 0'),
      false,
      /not on an XFS mount/,
    ],
  ])('%s', (_name, info, table, supported, reason) => {
    const result = detectStorageOptSupport(info, table);
    expect(result.supported).toBe(supported);
    expect(result.reason).toMatch(reason);
  });
});

describe('QuotaService.detectStorageOptSupport', () => {
  const info: DockerStorageInfo = { Driver: 'overlay2', DriverStatus: status('xfs') };

  it('checks the engine info against the host mount table', async () => {
    const service = new QuotaService(new FakeCommandRunner(), new FakeMountTable(XFS_PRJ));
    await expect(service.detectStorageOptSupport(info)).resolves.toMatchObject({ supported: true });
  });

  it('says unsupported when the mount table cannot be read', async () => {
    const service = new QuotaService(new FakeCommandRunner(), new FakeMountTable(new Error('EIO')));
    await expect(service.detectStorageOptSupport(info)).resolves.toEqual({
      supported: false,
      reason: 'cannot read the mount table: EIO',
    });
  });
});
