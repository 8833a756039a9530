import { loadConfig } from './load-config';
import { parseWarmPool } from './warm-pool-config';

describe('parseWarmPool', () => {
  it('reads image:size pairs, the size after the last colon', () => {
    expect(parseWarmPool('busybox:2, python:3.12:4 ,registry:5000/tools/py:3.12:1')).toEqual([
      { image: 'busybox', size: 2 },
      { image: 'python:3.12', size: 4 },
      { image: 'registry:5000/tools/py:3.12', size: 1 },
    ]);
  });

  it('is empty for an empty text and keeps a size of 0', () => {
    expect(parseWarmPool('')).toEqual([]);
    expect(parseWarmPool('busybox:0')).toEqual([{ image: 'busybox', size: 0 }]);
  });

  it.each([
    ['busybox', /"busybox" must look like image:size/],
    ['busybox:', /must look like image:size/],
    [':3', /must look like image:size/],
    ['busybox:-1', /must look like image:size/],
    ['busybox:two', /must look like image:size/],
    ['busybox:101', /at most 100/],
    ['busybox:1,busybox:2', /lists busybox twice/],
    ['bad image:1', /must not contain spaces/],
  ])('refuses %j naming the problem', (text, message) => {
    expect(() => parseWarmPool(text)).toThrow(message);
  });

  it('is part of the configuration, with removal on shutdown on by default', () => {
    const config = loadConfig({ WARM_POOL: 'sandboxd/demo:latest:3' });
    expect(config.pool.entries).toEqual([{ image: 'sandboxd/demo:latest', size: 3 }]);
    expect(config.pool.removeOnShutdown).toBe(true);
    expect(loadConfig({}).pool.entries).toEqual([]);
    expect(loadConfig({ WARM_POOL_REMOVE_ON_SHUTDOWN: 'false' }).pool.removeOnShutdown).toBe(false);
    expect(() => loadConfig({ WARM_POOL_REMOVE_ON_SHUTDOWN: 'maybe' })).toThrow(
      /WARM_POOL_REMOVE_ON_SHUTDOWN must be true or false/,
    );
  });
});
