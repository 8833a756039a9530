// @app/config's DTO decorators need the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { archiveEngineError, withoutHostPaths } from './archive-api';

describe('archive errors', () => {
  it('hide the host path of the container mount', () => {
    expect(
      withoutHostPaths('lstat /var/lib/docker/overlay2/fc83/merged/tmp/new/f: not a directory'),
    ).toBe('lstat /tmp/new/f: not a directory');
    expect(withoutHostPaths('stat /data/docker/devicemapper/mnt/ab/rootfs/etc: x')).toBe(
      'stat /etc: x',
    );
    expect(withoutHostPaths('nothing to hide')).toBe('nothing to hide');
  });

  it('tell a missing container from other engine failures', () => {
    const missing = Object.assign(
      new Error('(HTTP code 404) no such container - No such container: x '),
      {
        statusCode: 404,
        json: { message: 'No such container: x' },
      },
    );
    expect(archiveEngineError(missing, 'x', 'could not read /a').code).toBe('CONTAINER_MISSING');
    const failed = Object.assign(new Error('(HTTP code 500) server error - boom '), {
      statusCode: 500,
      json: { message: 'boom' },
    });
    expect(archiveEngineError(failed, 'x', 'could not read /a')).toMatchObject({
      code: 'CONTAINER_FAILED',
      message: 'could not read /a: boom',
    });
  });
});
