import { setTimeout as sleep } from 'node:timers/promises';
import { isCodedError } from '@app/config';
import { KeyValueStore, SandboxLock, sandboxLockKey } from '@app/meta-store';
import { idFactory, rejectionOf, testConfig } from './meta-store-support';

export interface LockHarness {
  /** Two stores on the same backing data: two Redis connections stand for two processes. */
  stores: [KeyValueStore, KeyValueStore];
  close(): Promise<void>;
}

/** Mutual exclusion and liveness of SandboxLock; run against each KeyValueStore. */
export function describeSandboxLockContract(
  name: string,
  open: () => LockHarness | Promise<LockHarness>,
): void {
  describe(`SandboxLock contract: ${name}`, () => {
    let harness: LockHarness;
    const newId = idFactory('lock');
    const lockOn = (index: 0 | 1, lockTtlMs: number, lockWaitMs: number): SandboxLock =>
      new SandboxLock(harness.stores[index], testConfig({}, { lockTtlMs, lockWaitMs }));

    beforeAll(async () => {
      harness = await open();
    });
    afterAll(async () => harness.close());

    it('never lets two holders on different instances run at once', async () => {
      const id = newId();
      const locks = [lockOn(0, 2_000, 10_000), lockOn(1, 2_000, 10_000)];
      let inside = 0;
      let maxInside = 0;
      let completed = 0;
      await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          locks[i % 2].withLock(id, async () => {
            inside += 1;
            maxInside = Math.max(maxInside, inside);
            await sleep(15);
            inside -= 1;
            completed += 1;
          }),
        ),
      );
      expect(completed).toBe(12);
      expect(maxInside).toBe(1);
      expect(await harness.stores[0].get(sandboxLockKey(id))).toBeNull();
    });

    it('does not serialize different sandboxes', async () => {
      const [a, b] = [newId(), newId()];
      const holder = lockOn(0, 2_000, 0);
      const other = lockOn(1, 2_000, 0);
      await holder.withLock(a, async () => {
        await expect(other.withLock(b, () => Promise.resolve('free'))).resolves.toBe('free');
      });
    });

    it('gives up with SANDBOX_BUSY after lockWaitMs', async () => {
      const id = newId();
      const holder = lockOn(0, 5_000, 0);
      const waiter = lockOn(1, 5_000, 200);
      await holder.withLock(id, async () => {
        const started = Date.now();
        const error = await rejectionOf(waiter.withLock(id, () => Promise.resolve('never')));
        const waited = Date.now() - started;
        expect(isCodedError(error, 'SANDBOX_BUSY')).toBe(true);
        expect(error).toMatchObject({ details: { sandboxId: id } });
        expect(waited).toBeGreaterThanOrEqual(190);
        expect(waited).toBeLessThan(1_500);
      });
    });

    it('hands the lock to a waiter as soon as the holder releases it', async () => {
      const id = newId();
      const holder = lockOn(0, 5_000, 0);
      const waiter = lockOn(1, 5_000, 5_000);
      let released = 0;
      const holding = holder.withLock(id, async () => {
        await sleep(200);
        released = Date.now();
      });
      await sleep(20);
      const acquiredAt = await waiter.withLock(id, () => Promise.resolve(Date.now()));
      await holding;
      expect(acquiredAt).toBeGreaterThanOrEqual(released);
      expect(acquiredAt - released).toBeLessThan(1_000);
    });

    it('frees the lock of a crashed holder when its TTL runs out', async () => {
      const id = newId();
      // A holder that took the lock and died: no renewal, no release.
      expect(await harness.stores[0].setIfAbsent(sandboxLockKey(id), 'dead-token', 300)).toBe(true);
      const waiter = lockOn(1, 2_000, 3_000);
      const started = Date.now();
      await expect(waiter.withLock(id, () => Promise.resolve('recovered'))).resolves.toBe(
        'recovered',
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    });

    it('renews the lock while a long operation runs past the TTL', async () => {
      const id = newId();
      const holder = lockOn(0, 300, 0);
      const other = lockOn(1, 300, 0);
      const signal = await holder.withLock(id, async (s) => {
        for (let i = 0; i < 4; i += 1) {
          await sleep(250);
          expect(
            isCodedError(
              await rejectionOf(other.withLock(id, () => Promise.resolve(1))),
              'SANDBOX_BUSY',
            ),
          ).toBe(true);
        }
        return s;
      });
      expect(signal.aborted).toBe(false);
      await expect(other.withLock(id, () => Promise.resolve('after'))).resolves.toBe('after');
    });

    it('aborts the signal when the lock is lost, and leaves the new holder alone', async () => {
      const id = newId();
      const holder = lockOn(0, 300, 0);
      const signal = await holder.withLock(id, async (s) => {
        // Another process steals the key (e.g. after this holder stalled past its TTL).
        await harness.stores[1].set(sandboxLockKey(id), 'thief', 5_000);
        await sleep(250);
        return s;
      });
      expect(signal.aborted).toBe(true);
      expect(isCodedError(signal.reason, 'SANDBOX_BUSY')).toBe(true);
      expect(await harness.stores[1].get(sandboxLockKey(id))).toBe('thief');
      await harness.stores[1].del(sandboxLockKey(id));
    });
  });
}
