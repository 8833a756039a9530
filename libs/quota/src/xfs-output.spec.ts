import { parseFindmnt, parseLsproj, parseQuotaState } from './xfs-output';

describe('parseLsproj', () => {
  it.each([
    ['projid = 4242\n', 4242],
    ['projid = 0\n', 0],
    ['projid=7', 7],
    ['projid = 4294967295\n', 4294967295],
  ])('reads %j as %d', (stdout, id) => {
    expect(parseLsproj(stdout)).toBe(id);
  });

  it.each([[''], ['projid = \n'], ['projid = -1\n'], ['projid = 4294967296\n'], ['garbage 12\n']])(
    'rejects %j',
    (stdout) => {
      expect(parseLsproj(stdout)).toBeNull();
    },
  );
});

describe('parseFindmnt', () => {
  it('splits the padded target from the type', () => {
    expect(parseFindmnt('/var/lib/docker xfs\n')).toEqual({
      target: '/var/lib/docker',
      fstype: 'xfs',
    });
    expect(parseFindmnt('/      ext4\n')).toEqual({ target: '/', fstype: 'ext4' });
  });

  it('keeps spaces inside the target and decodes \\xHH escapes', () => {
    expect(parseFindmnt('/mnt/a b   xfs\n')).toEqual({ target: '/mnt/a b', fstype: 'xfs' });
    expect(parseFindmnt('/mnt/a\\x20b xfs\n')).toEqual({ target: '/mnt/a b', fstype: 'xfs' });
  });

  it.each([[''], ['\n'], ['xfs\n'], ['relative xfs\n']])('rejects %j', (stdout) => {
    expect(parseFindmnt(stdout)).toBeNull();
  });
});

describe('parseQuotaState', () => {
  const state = (accounting: string, enforcement: string): string =>
    `Project quota state on /data (/dev/sdb1)\n  Accounting: ${accounting}\n  Enforcement: ${enforcement}\n  Inode: #131 (1 blocks, 1 extents)\n`;

  it('reads accounting and enforcement', () => {
    expect(parseQuotaState(state('ON', 'ON'))).toEqual({ accounting: true, enforcement: true });
    expect(parseQuotaState(state('ON', 'OFF'))).toEqual({ accounting: true, enforcement: false });
  });

  it('returns null when there is no state block (quota off prints nothing)', () => {
    expect(parseQuotaState('')).toBeNull();
    expect(parseQuotaState('Project quota are not enabled on /dev/loop0\n')).toBeNull();
  });
});
