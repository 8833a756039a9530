import type { Header } from 'tar-stream';
import { directChild, goModePermissions, goModeType, parsePathStat } from './file-info';

const stat = (json: unknown): string => Buffer.from(JSON.stringify(json)).toString('base64');

function header(name: string, type: Header['type'], extra: Partial<Header> = {}): Header {
  return {
    name,
    type,
    size: 0,
    mode: 0o644,
    mtime: new Date('2024-01-01T00:00:00Z'),
    linkname: '',
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
    ...extra,
  };
}

describe('Go file modes from the engine', () => {
  it('decodes types', () => {
    expect(goModeType(420)).toBe('file');
    expect(goModeType(2147484141)).toBe('directory'); // /bin, 0755
    expect(goModeType(134218239)).toBe('symlink'); // /bin/sh, 0777
    expect(goModeType(2 ** 25 + 0o644)).toBe('other'); // named pipe
    expect(goModeType(2 ** 26 + 2 ** 21 + 0o666)).toBe('other'); // character device
  });

  it('moves setuid, setgid and sticky to their Unix bits', () => {
    expect(goModePermissions(2148532735)).toBe(0o1777); // /tmp
    expect(goModePermissions(2 ** 23 + 0o755)).toBe(0o4755);
    expect(goModePermissions(2 ** 22 + 0o755)).toBe(0o2755);
    expect(goModePermissions(0o600)).toBe(0o600);
  });

  it('parses the path stat header', () => {
    expect(
      parsePathStat(
        '/bin/sh',
        stat({
          name: 'sh',
          size: 7,
          mode: 134218239,
          mtime: '2024-01-01T00:00:00Z',
          linkTarget: '/bin/busybox',
        }),
      ),
    ).toEqual({
      path: '/bin/sh',
      name: 'sh',
      type: 'symlink',
      size: 7,
      mode: 0o777,
      mtime: new Date('2024-01-01T00:00:00Z'),
      linkTarget: '/bin/busybox',
    });
    const file = parsePathStat(
      '/f',
      stat({ name: 'f', size: 1, mode: 420, mtime: 'junk', linkTarget: '' }),
    );
    expect(file.linkTarget).toBeNull();
    expect(file.mtime.getTime()).toBe(0);
    expect(() => parsePathStat('/x', stat({ name: 'x' }))).toThrow(/unexpected path stat/);
  });
});

describe('directChild', () => {
  it('keeps exactly one level below the root entry', () => {
    expect(directChild('d/', header('d/a', 'file', { size: 3 }))).toMatchObject({
      name: 'a',
      type: 'file',
      size: 3,
      mode: 0o644,
      linkTarget: null,
    });
    expect(directChild('d/', header('d/sub/', 'directory', { mode: 0o40750 }))).toMatchObject({
      name: 'sub',
      type: 'directory',
      mode: 0o750,
      size: 0,
    });
    expect(directChild('d/', header('d/sub/x', 'file'))).toBeNull();
    expect(directChild('d/', header('d/', 'directory'))).toBeNull();
    expect(directChild('d/', header('other/a', 'file'))).toBeNull();
    expect(directChild('d/', header('dd/a', 'file'))).toBeNull();
  });

  it('handles the root archive, whose names are absolute', () => {
    expect(directChild('/', header('/bin/', 'directory'))?.name).toBe('bin');
    expect(directChild('/', header('/.dockerenv', 'file'))?.name).toBe('.dockerenv');
    expect(directChild('/', header('/bin/sh', 'symlink'))).toBeNull();
  });

  it('maps link types', () => {
    expect(directChild('d/', header('d/l', 'symlink', { linkname: '../x' }))).toMatchObject({
      type: 'symlink',
      linkTarget: '../x',
    });
    expect(directChild('d/', header('d/h', 'link', { linkname: 'd/a' }))?.type).toBe('file');
    expect(directChild('d/', header('d/p', 'fifo'))?.type).toBe('other');
  });
});
