import { setTimeout as sleep } from 'node:timers/promises';
import { isCodedError } from '@app/domain';
import { KeyValueStore, SandboxLock, TaskLock, sandboxLockKey, taskLockKey } from '@app/meta-store';
import { idFactory, rejectionOf } from './meta-store-support';

export interface LockHarness {
  /** Two stores on the same backing data: two Redis connections stand for two processes. */
  stores: [KeyValueStore, KeyValueStore];
  close(): Promise<void>;
}

/** Mutual exclusion and liveness of SandboxLock and TaskLock; run against each KeyValueStore. */
export function describeSandboxLockContract(
  name: string,
  open: () => LockHarness | Promise<LockHarness>,
): void {
  describe(`SandboxLock contract: ${name}`, () => {
    let harness: LockHarness;
    const newId = idFactory('lock');
    const lockOn = (index: 0 | 1, lockTtlMs: number, lockWaitMs: number): SandboxLock =>
      new SandboxLock(harness.stores[index], { ttlMs: lockTtlMs, waitMs: lockWaitMs });

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

    describe('tryWithLock', () => {
      it('runs fn and releases the lock when it is free', async () => {
        const id = newId();
        const lock = lockOn(0, 2_000, 0);
        await expect(
          lock.tryWithLock(id, async () => {
            expect(await harness.stores[1].get(sandboxLockKey(id))).not.toBeNull();
            return 'ran';
          }),
        ).resolves.toEqual({ acquired: true, value: 'ran' });
        expect(await harness.stores[0].get(sandboxLockKey(id))).toBeNull();
      });

      it('answers acquired: false at once, without running fn, while another holder has it', async () => {
        const id = newId();
        const holder = lockOn(0, 5_000, 0);
        // A generous wait: tryWithLock must ignore it, not sit it out.
        const other = lockOn(1, 5_000, 10_000);
        let ran = false;
        await holder.withLock(id, async () => {
          const started = Date.now();
          const result = await other.tryWithLock(id, () => {
            ran = true;
            return Promise.resolve('never');
          });
          expect(result).toEqual({ acquired: false });
          expect(Date.now() - started).toBeLessThan(200);
        });
        expect(ran).toBe(false);
        await expect(other.tryWithLock(id, () => Promise.resolve(1))).resolves.toEqual({
          acquired: true,
          value: 1,
        });
      });

      it('releases after fn throws, and renews like withLock', async () => {
        const id = newId();
        const lock = lockOn(0, 300, 0);
        await expect(lock.tryWithLock(id, () => Promise.reject(new Error('boom')))).rejects.toThrow(
          'boom',
        );
        expect(await harness.stores[1].get(sandboxLockKey(id))).toBeNull();

        const result = await lock.tryWithLock(id, async (signal) => {
          await sleep(700);
          expect(await harness.stores[1].get(sandboxLockKey(id))).not.toBeNull();
          return signal.aborted;
        });
        expect(result).toEqual({ acquired: true, value: false });
      });
    });

    describe('TaskLock', () => {
      const task = (): string => `scan-${newId()}`;
      const tasksOn = (index: 0 | 1): TaskLock => new TaskLock(harness.stores[index]);

      it('lets only one of two instances run a task at a time; the other gets false at once', async () => {
        const name = task();
        const [a, b] = [tasksOn(0), tasksOn(1)];
        let inside = 0;
        let maxInside = 0;
        let runs = 0;
        const attempt = (lock: TaskLock): Promise<boolean> =>
          lock.runExclusive(name, 2_000, async () => {
            inside += 1;
            runs += 1;
            maxInside = Math.max(maxInside, inside);
            await sleep(100);
            inside -= 1;
          });
        const started = Date.now();
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) => attempt([a, b][i % 2])),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(runs).toBe(1);
        expect(maxInside).toBe(1);
        // The losers did not wait for the winner.
        expect(Date.now() - started).toBeLessThan(1_000);
        expect(await harness.stores[0].get(taskLockKey(name))).toBeNull();
        // Released: the other instance runs it next time.
        await expect(b.runExclusive(name, 2_000, () => Promise.resolve())).resolves.toBe(true);
      });

      it('returns false while the lock is held, and does not touch the holder', async () => {
        const name = task();
        await harness.stores[1].set(taskLockKey(name), 'other-instance', 5_000);
        let ran = false;
        await expect(
          tasksOn(0).runExclusive(name, 1_000, () => {
            ran = true;
            return Promise.resolve();
          }),
        ).resolves.toBe(false);
        expect(ran).toBe(false);
        expect(await harness.stores[0].get(taskLockKey(name))).toBe('other-instance');
        await harness.stores[1].del(taskLockKey(name));
      });

      it('renews the lock while a pass runs past its TTL', async () => {
        const name = task();
        const [a, b] = [tasksOn(0), tasksOn(1)];
        let aborted = true;
        const ran = await a.runExclusive(name, 300, async (signal) => {
          for (let i = 0; i < 4; i += 1) {
            await sleep(250);
            await expect(b.runExclusive(name, 300, () => Promise.resolve())).resolves.toBe(false);
          }
          aborted = signal.aborted;
        });
        expect(ran).toBe(true);
        expect(aborted).toBe(false);
        await expect(b.runExclusive(name, 300, () => Promise.resolve())).resolves.toBe(true);
      });

      it('releases after fn throws and rethrows the error', async () => {
        const name = task();
        await expect(
          tasksOn(0).runExclusive(name, 1_000, () => Promise.reject(new Error('scan failed'))),
        ).rejects.toThrow('scan failed');
        expect(await harness.stores[1].get(taskLockKey(name))).toBeNull();
      });

      it('aborts the signal when the lock is lost, and leaves the new holder alone', async () => {
        const name = task();
        let reason: unknown;
        await tasksOn(0).runExclusive(name, 300, async (signal) => {
          await harness.stores[1].set(taskLockKey(name), 'thief', 5_000);
          await sleep(250);
          reason = signal.reason;
        });
        expect(isCodedError(reason, 'STORE_UNAVAILABLE')).toBe(true);
        expect(reason).toMatchObject({ details: { task: name, lockLost: true } });
        expect(await harness.stores[1].get(taskLockKey(name))).toBe('thief');
        await harness.stores[1].del(taskLockKey(name));
      });

      it('rejects a bad name or TTL with VALIDATION_FAILED', async () => {
        const lock = tasksOn(0);
        const noop = (): Promise<void> => Promise.resolve();
        expect(
          isCodedError(await rejectionOf(lock.runExclusive('', 1_000, noop)), 'VALIDATION_FAILED'),
        ).toBe(true);
        expect(
          isCodedError(
            await rejectionOf(lock.runExclusive('a b', 1_000, noop)),
            'VALIDATION_FAILED',
          ),
        ).toBe(true);
        expect(
          isCodedError(await rejectionOf(lock.runExclusive(task(), 0, noop)), 'VALIDATION_FAILED'),
        ).toBe(true);
      });
    });
  });
}
