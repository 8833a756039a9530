// @app/config's DTO decorators need the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { assertDeletable, assertWritable } from './file-guard';

const MOUNTS = ['/proc', '/sys', '/dev', '/etc/hosts', '/etc/resolv.conf', '/data/logs'];

describe('paths the files API leaves alone', () => {
  it.each(['/dev', '/dev/null', '/dev/shm/x', '/proc/1/environ', '/sys/fs', '/etc/hosts'])(
    'refuses to write %s',
    (path) => {
      expect(() => assertWritable(path, MOUNTS)).toThrow(
        expect.objectContaining({ code: 'PATH_PROTECTED' }),
      );
    },
  );

  it.each(['/tmp/x', '/etc/passwd', '/devices', '/data/logs/app.log', '/etc/hosts.allow'])(
    'writes %s',
    (path) => expect(() => assertWritable(path, MOUNTS)).not.toThrow(),
  );

  it.each(['/dev', '/dev/null', '/proc/self', '/etc/hosts', '/etc', '/data', '/data/logs'])(
    'refuses to delete %s',
    (path) => {
      expect(() => assertDeletable(path, MOUNTS)).toThrow(
        expect.objectContaining({ code: 'PATH_PROTECTED' }),
      );
    },
  );

  it.each(['/tmp', '/etc/passwd', '/data/logs/app.log', '/devices'])('deletes %s', (path) =>
    expect(() => assertDeletable(path, MOUNTS)).not.toThrow(),
  );
});
