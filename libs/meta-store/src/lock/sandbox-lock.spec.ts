import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LockConfig } from '@app/config';
import { isCodedError } from '@app/domain';
import { MemoryKeyValueStore } from '../kv/memory-key-value-store';
import { SandboxLock, sandboxLockKey } from './sandbox-lock';

/** Sub-second TTLs, which LOCK_TTL_SECONDS cannot express. */
function configWith(ttlMs: number, waitMs: number): LockConfig {
  return { ttlMs, waitMs };
}

describe('SandboxLock (memory store)', () => {
  let kv: MemoryKeyValueStore;

  beforeEach(() => {
    kv = new MemoryKeyValueStore();
  });

  it('releases the lock after fn resolves or throws', async () => {
    const lock = new SandboxLock(kv, configWith(1_000, 0));
    await expect(lock.withLock('a', () => Promise.resolve('done'))).resolves.toBe('done');
    expect(await kv.get(sandboxLockKey('a'))).toBeNull();
    await expect(lock.withLock('a', () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(await kv.get(sandboxLockKey('a'))).toBeNull();
  });

  it('throws SANDBOX_BUSY with the sandbox id when the wait runs out', async () => {
    const lock = new SandboxLock(kv, configWith(1_000, 100));
    await kv.set(sandboxLockKey('a'), 'someone-else', 5_000);
    const started = Date.now();
    const error = await lock.withLock('a', () => Promise.resolve('never')).catch((e: unknown) => e);
    expect(isCodedError(error, 'SANDBOX_BUSY')).toBe(true);
    expect(error).toMatchObject({ details: { sandboxId: 'a' } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(await kv.get(sandboxLockKey('a'))).toBe('someone-else');
  });

  it('does not release a lock that another holder took over', async () => {
    const lock = new SandboxLock(kv, configWith(1_000, 0));
    await lock.withLock('a', async () => {
      await kv.set(sandboxLockKey('a'), 'usurper', 5_000);
    });
    expect(await kv.get(sandboxLockKey('a'))).toBe('usurper');
  });

  it('renews the lock while fn runs past the TTL', async () => {
    const lock = new SandboxLock(kv, configWith(150, 0));
    const signal = await lock.withLock('a', async (s) => {
      await sleep(500);
      expect(await kv.get(sandboxLockKey('a'))).not.toBeNull();
      return s;
    });
    expect(signal.aborted).toBe(false);
  });

  it('tryWithLock runs fn when free and answers acquired: false at once when held', async () => {
    const lock = new SandboxLock(kv, configWith(1_000, 5_000));
    await expect(lock.tryWithLock('a', () => Promise.resolve(7))).resolves.toEqual({
      acquired: true,
      value: 7,
    });
    expect(await kv.get(sandboxLockKey('a'))).toBeNull();
    await kv.set(sandboxLockKey('a'), 'someone-else', 5_000);
    const started = Date.now();
    await expect(lock.tryWithLock('a', () => Promise.resolve(8))).resolves.toEqual({
      acquired: false,
    });
    expect(Date.now() - started).toBeLessThan(100);
    expect(await kv.get(sandboxLockKey('a'))).toBe('someone-else');
  });

  it('aborts the signal when the lock is lost', async () => {
    const lock = new SandboxLock(kv, configWith(150, 0));
    const signal = await lock.withLock('a', async (s) => {
      await kv.del(sandboxLockKey('a'));
      await sleep(200);
      return s;
    });
    expect(signal.aborted).toBe(true);
    expect(isCodedError(signal.reason, 'SANDBOX_BUSY')).toBe(true);
  });
});
