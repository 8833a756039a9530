import { setTimeout as sleep } from 'node:timers/promises';
import { KeyValueStore } from '@app/meta-store';

export interface KeyValueStoreHarness {
  store: KeyValueStore;
  close(): Promise<void>;
}

/** The one behaviour every KeyValueStore must have; run against each implementation. */
export function describeKeyValueStoreContract(
  name: string,
  open: () => KeyValueStoreHarness | Promise<KeyValueStoreHarness>,
): void {
  describe(`KeyValueStore contract: ${name}`, () => {
    let harness: KeyValueStoreHarness;
    let store: KeyValueStore;
    let n = 0;
    const key = (label: string): string => `kv:${label}:${(n += 1)}`;

    beforeAll(async () => {
      harness = await open();
      store = harness.store;
    });
    afterAll(async () => harness.close());

    it('get returns null for a missing key and the value after set', async () => {
      const k = key('get');
      expect(await store.get(k)).toBeNull();
      await store.set(k, 'v1');
      expect(await store.get(k)).toBe('v1');
      await store.set(k, 'v2');
      expect(await store.get(k)).toBe('v2');
    });

    it('set with a TTL expires; set without one clears an earlier TTL', async () => {
      const expiring = key('ttl');
      await store.set(expiring, 'v', 80);
      expect(await store.get(expiring)).toBe('v');
      await sleep(160);
      expect(await store.get(expiring)).toBeNull();

      const persistent = key('persist');
      await store.set(persistent, 'v', 80);
      await store.set(persistent, 'v');
      await sleep(160);
      expect(await store.get(persistent)).toBe('v');
    });

    it('setIfAbsent creates once, and again after the TTL expires', async () => {
      const k = key('nx');
      expect(await store.setIfAbsent(k, 'first', 100)).toBe(true);
      expect(await store.setIfAbsent(k, 'second', 100)).toBe(false);
      expect(await store.get(k)).toBe('first');
      await sleep(200);
      expect(await store.setIfAbsent(k, 'third', 1_000)).toBe(true);
      expect(await store.get(k)).toBe('third');
    });

    it('setIfAbsent is won by exactly one of many concurrent callers', async () => {
      const k = key('race');
      const wins = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.setIfAbsent(k, `c${i}`, 5_000)),
      );
      expect(wins.filter(Boolean)).toHaveLength(1);
    });

    it('del removes several keys and counts those that existed', async () => {
      const [a, b, c] = [key('del'), key('del'), key('del')];
      await store.set(a, '1');
      await store.set(b, '2');
      expect(await store.del(a, b, c)).toBe(2);
      expect(await store.get(a)).toBeNull();
      expect(await store.get(b)).toBeNull();
      expect(await store.del()).toBe(0);
    });

    it('compareAndDelete deletes only while the value matches', async () => {
      const k = key('cad');
      await store.set(k, 'token-a');
      expect(await store.compareAndDelete(k, 'token-b')).toBe(false);
      expect(await store.get(k)).toBe('token-a');
      expect(await store.compareAndDelete(k, 'token-a')).toBe(true);
      expect(await store.get(k)).toBeNull();
      expect(await store.compareAndDelete(k, 'token-a')).toBe(false);
    });

    it('compareAndExpire extends the TTL only while the value matches', async () => {
      const k = key('cae');
      await store.set(k, 'token-a', 150);
      expect(await store.compareAndExpire(k, 'token-b', 5_000)).toBe(false);
      expect(await store.compareAndExpire(k, 'token-a', 5_000)).toBe(true);
      await sleep(300);
      expect(await store.get(k)).toBe('token-a');

      expect(await store.compareAndExpire(k, 'token-a', 80)).toBe(true);
      await sleep(160);
      expect(await store.get(k)).toBeNull();
      expect(await store.compareAndExpire(k, 'token-a', 1_000)).toBe(false);
    });

    it('zrangeByScore returns members with score <= max, ascending, up to limit', async () => {
      const k = key('zset');
      await store.zadd(k, 30, 'c');
      await store.zadd(k, 10, 'a');
      await store.zadd(k, 20, 'b');
      await store.zadd(k, 40, 'd');
      expect(await store.zrangeByScore(k, 30, 10)).toEqual(['a', 'b', 'c']);
      expect(await store.zrangeByScore(k, 100, 2)).toEqual(['a', 'b']);
      expect(await store.zrangeByScore(k, 5, 10)).toEqual([]);
      expect(await store.zrangeByScore(key('missing'), 100, 10)).toEqual([]);
    });

    it('zadd moves an existing member; ties order by member', async () => {
      const k = key('zmove');
      await store.zadd(k, 10, 'x');
      await store.zadd(k, 10, 'b');
      await store.zadd(k, 10, 'a');
      expect(await store.zrangeByScore(k, 10, 10)).toEqual(['a', 'b', 'x']);
      await store.zadd(k, 50, 'a');
      expect(await store.zrangeByScore(k, 10, 10)).toEqual(['b', 'x']);
      expect(await store.zrangeByScore(k, 50, 10)).toEqual(['b', 'x', 'a']);
    });

    it('zrem removes a member and reports whether it was there', async () => {
      const k = key('zrem');
      await store.zadd(k, 1, 'a');
      await store.zadd(k, 2, 'b');
      expect(await store.zrem(k, 'a')).toBe(true);
      expect(await store.zrem(k, 'a')).toBe(false);
      expect(await store.zrangeByScore(k, 10, 10)).toEqual(['b']);
      expect(await store.zrem(k, 'b')).toBe(true);
      expect(await store.zrangeByScore(k, 10, 10)).toEqual([]);
      expect(await store.del(k)).toBe(0);
    });

    it('zrangeByScoreWithScores returns the scores too; an Infinity bound reads everything', async () => {
      const k = key('zscores');
      await store.zadd(k, 1_795_815_322_931, 'b');
      await store.zadd(k, 1_795_815_322_930, 'a');
      await store.zadd(k, 5, 'c');
      expect(await store.zrangeByScoreWithScores(k, 1_795_815_322_930, 10)).toEqual([
        { member: 'c', score: 5 },
        { member: 'a', score: 1_795_815_322_930 },
      ]);
      expect(await store.zrangeByScoreWithScores(k, Infinity, 2)).toEqual([
        { member: 'c', score: 5 },
        { member: 'a', score: 1_795_815_322_930 },
      ]);
      expect(await store.zrangeByScore(k, Infinity, 10)).toEqual(['c', 'a', 'b']);
      expect(await store.zrangeByScoreWithScores(k, Infinity, 0)).toEqual([]);
      expect(await store.zrangeByScoreWithScores(key('missing'), Infinity, 10)).toEqual([]);
    });

    it('zaddMany adds in bulk (more than one command worth), and onlyLower never raises a score', async () => {
      const k = key('zmany');
      const many = Array.from({ length: 1_234 }, (_, i) => ({
        member: `m${String(i).padStart(4, '0')}`,
        score: 1_000 + i,
      }));
      await store.zaddMany(k, many);
      expect(await store.zrangeByScore(k, Infinity, 5_000)).toEqual(many.map((m) => m.member));
      await store.zaddMany(k, []);

      await store.zaddMany(
        k,
        [
          { member: 'm0000', score: 5_000 }, // higher: kept at 1000
          { member: 'm0001', score: 10 }, // lower: moved
          { member: 'new', score: 9_999 }, // new: added
        ],
        { onlyLower: true },
      );
      expect(await store.zrangeByScoreWithScores(k, 1_000, 10)).toEqual([
        { member: 'm0001', score: 10 },
        { member: 'm0000', score: 1_000 },
      ]);
      expect(await store.zrangeByScoreWithScores(k, Infinity, 5_000)).toContainEqual({
        member: 'new',
        score: 9_999,
      });
      await store.zaddMany(k, [{ member: 'm0000', score: 7 }]);
      expect(await store.zrangeByScore(k, 7, 10)).toEqual(['m0000']);
    });

    it('zcompareAndSet moves or removes a member only while its score is the expected one', async () => {
      const k = key('zcas');
      await store.zadd(k, 100, 'a');
      await store.zadd(k, 200, 'b');
      expect(await store.zcompareAndSet(k, 'a', 99, 300)).toBe(false);
      expect(await store.zcompareAndSet(k, 'a', 100, 300)).toBe(true);
      expect(await store.zrangeByScoreWithScores(k, Infinity, 10)).toEqual([
        { member: 'b', score: 200 },
        { member: 'a', score: 300 },
      ]);
      expect(await store.zcompareAndSet(k, 'b', 100, null)).toBe(false);
      expect(await store.zcompareAndSet(k, 'b', 200, null)).toBe(true);
      expect(await store.zcompareAndSet(k, 'b', 200, null)).toBe(false);
      expect(await store.zcompareAndSet(k, 'ghost', 1, 2)).toBe(false);
      expect(await store.zrangeByScore(k, Infinity, 10)).toEqual(['a']);
      // Epoch-ms scores compare exactly.
      await store.zadd(k, 1_795_815_322_931, 'c');
      expect(await store.zcompareAndSet(k, 'c', 1_795_815_322_930, null)).toBe(false);
      expect(await store.zcompareAndSet(k, 'c', 1_795_815_322_931, null)).toBe(true);
      expect(await store.zcompareAndSet(k, 'a', 300, null)).toBe(true);
      // Like zrem, removing the last member removes the key.
      expect(await store.del(k)).toBe(0);
    });

    it('rejects a non-positive TTL', async () => {
      await expect(store.set(key('bad'), 'v', 0)).rejects.toThrow(RangeError);
      await expect(store.setIfAbsent(key('bad'), 'v', -5)).rejects.toThrow(RangeError);
    });

    it('ping resolves', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
