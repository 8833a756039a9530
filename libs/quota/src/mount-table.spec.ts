import { mountOf, parseMounts, projectQuotaMode } from './mount-table';

const TABLE = [
  '/dev/vda1 / ext4 rw,relatime 0 0',
  'proc /proc proc rw,nosuid 0 0',
  '/dev/sdb1 /var/lib/docker xfs rw,relatime,attr2,inode64,prjquota 0 0',
  '/dev/loop0 /mnt/with\\040space xfs rw,noquota 0 0',
  '/dev/loop1 /var/lib/docker/volumes xfs rw,noquota 0 0',
  '',
].join('\n');

describe('parseMounts', () => {
  it('reads every line and decodes octal escapes', () => {
    const entries = parseMounts(TABLE);
    expect(entries).toHaveLength(5);
    expect(entries[2]).toEqual({
      source: '/dev/sdb1',
      target: '/var/lib/docker',
      fstype: 'xfs',
      options: ['rw', 'relatime', 'attr2', 'inode64', 'prjquota'],
    });
    expect(entries[3].target).toBe('/mnt/with space');
  });
});

describe('mountOf', () => {
  const entries = parseMounts(TABLE);

  it('picks the longest mount target containing the path', () => {
    expect(mountOf(entries, '/var/lib/docker/overlay2/x/diff')?.target).toBe('/var/lib/docker');
    expect(mountOf(entries, '/var/lib/docker/volumes/v1')?.target).toBe('/var/lib/docker/volumes');
    expect(mountOf(entries, '/var/lib/dockerish')?.target).toBe('/');
    expect(mountOf(entries, '/var/lib/docker')?.target).toBe('/var/lib/docker');
  });

  it('prefers the later of two mounts on the same target (it hides the first)', () => {
    const stacked = parseMounts('/dev/a /data ext4 rw 0 0\n/dev/b /data xfs rw,prjquota 0 0\n');
    expect(mountOf(stacked, '/data/x')?.source).toBe('/dev/b');
  });

  it('returns null on an empty table', () => {
    expect(mountOf([], '/x')).toBeNull();
  });
});

describe('projectQuotaMode', () => {
  it.each([
    [['rw', 'prjquota'], 'enforced'],
    [['rw', 'pquota'], 'enforced'],
    [['rw', 'pqnoenforce'], 'accounting-only'],
    [['rw', 'noquota'], 'off'],
    [['rw', 'usrquota'], 'off'],
  ])('%j → %s', (options, mode) => {
    expect(projectQuotaMode(options)).toBe(mode);
  });
});
