import { Injectable, Logger } from '@nestjs/common';
import { CodedError, validationError } from '@app/domain';
import { KeyValueStore } from '../kv/key-value-store';
import { holdLease, tryAcquireLease } from './token-lease';

/** Task names become part of a key; kept to the characters of sandbox ids. */
const TASK_NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/** The task's key, shared by every instance on the same store. */
export function taskLockKey(name: string): string {
  return `task:${name}:lock`;
}

/**
 * "Only one process runs this now", cluster-wide: periodic scans (auto-stop, auto-delete,
 * reconcile) run on every instance's timer, and the instance that takes the task's lock does the
 * pass while the others skip it. With the in-memory store it is exclusive within the process.
 */
@Injectable()
export class TaskLock {
  private readonly logger = new Logger(TaskLock.name);

  constructor(private readonly store: KeyValueStore) {}

  /**
   * Runs `fn` if no other holder has the task's lock, and resolves true once it finished (its
   * error is rethrown after the lock is released); resolves false at once, without running it,
   * when the lock is held. The lock is renewed every ttl/3 while `fn` runs; if it is lost anyway
   * (the store was unreachable for a whole TTL, or lost its data) the signal aborts with
   * STORE_UNAVAILABLE and `fn` should stop, since another instance may start the same pass.
   * An unreachable store rejects with STORE_UNAVAILABLE: the pass is skipped, not run unguarded.
   */
  async runExclusive(
    name: string,
    ttlMs: number,
    fn: (signal: AbortSignal) => Promise<void>,
  ): Promise<boolean> {
    if (!TASK_NAME_PATTERN.test(name)) {
      throw validationError('name', 'must be 1-64 characters of A-Z a-z 0-9 _ . : -');
    }
    if (!Number.isFinite(ttlMs) || ttlMs < 3) {
      // Renewal runs every ttl/3 ms: below 3 ms it could not keep up.
      throw validationError('ttlMs', 'must be a finite number of milliseconds, at least 3');
    }
    const key = taskLockKey(name);
    const token = await tryAcquireLease(this.store, key, ttlMs);
    if (token === null) return false;
    await holdLease(
      this.store,
      this.logger,
      {
        key,
        token,
        ttlMs,
        subject: `task ${name}`,
        lostError: (reason) =>
          new CodedError('STORE_UNAVAILABLE', `Lost the lock of task ${name}: ${reason}`, {
            task: name,
            lockLost: true,
          }),
      },
      fn,
    );
    return true;
  }
}
