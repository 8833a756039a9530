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

    it('rejects a non-positive TTL', async () => {
      await expect(store.set(key('bad'), 'v', 0)).rejects.toThrow(RangeError);
      await expect(store.setIfAbsent(key('bad'), 'v', -5)).rejects.toThrow(RangeError);
    });

    it('ping resolves', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
