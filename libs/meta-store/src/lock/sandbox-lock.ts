import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Logger } from '@nestjs/common';
import { LockConfig } from '@app/config';
import { CodedError } from '@app/domain';
import { KeyValueStore } from '../kv/key-value-store';
import { LocalTurns } from './local-turns';
import { nextLockDelay } from './lock-backoff';
import { Lease, holdLease, tryAcquireLease } from './token-lease';

/** The lock's key, shared by every instance on the same store. */
export function sandboxLockKey(sandboxId: string): string {
  return `sandbox:${sandboxId}:lock`;
}

/** tryWithLock's answer: the value of `fn`, or that another holder had the lock. */
export type TryLockResult<T> = { acquired: true; value: T } | { acquired: false };

/**
 * A per-sandbox mutex held in the KeyValueStore, so commands on one sandbox are serialized across
 * every sandboxd process sharing a Redis. The value is a random token: only its holder can renew
 * or release it, and a crashed holder's lock frees itself when its TTL runs out.
 */
@Injectable()
export class SandboxLock {
  private readonly logger = new Logger(SandboxLock.name);
  private readonly turns = new LocalTurns();

  constructor(
    private readonly store: KeyValueStore,
    private readonly config: LockConfig,
  ) {}

  /**
   * Runs `fn` while holding the sandbox's lock, waiting up to lockWaitMs for it (SANDBOX_BUSY
   * after that). The signal aborts if the lock is lost (renewal found another token, or the store
   * was unreachable for a whole TTL): `fn` should then stop making changes, as another holder may
   * already be running. Callers in this process queue among themselves first (LocalTurns), so
   * only one of them at a time competes for the store's lock.
   */
  async withLock<T>(sandboxId: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const key = sandboxLockKey(sandboxId);
    const deadline = Date.now() + this.config.waitMs;
    const release = await this.turns.take(key, this.config.waitMs);
    if (release === null) throw busy(sandboxId);
    try {
      const token = await this.acquire(sandboxId, key, deadline);
      return await holdLease(this.store, this.logger, this.lease(sandboxId, key, token), fn);
    } finally {
      release();
    }
  }

  /**
   * withLock without waiting: one attempt, and `{ acquired: false }` at once if another holder has
   * the lock. For background work (deadline scans, activity bumps) that must neither queue behind
   * a running command nor fail it: the work is simply retried on the next pass.
   */
  async tryWithLock<T>(
    sandboxId: string,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<TryLockResult<T>> {
    const key = sandboxLockKey(sandboxId);
    const token = await tryAcquireLease(this.store, key, this.config.ttlMs);
    if (token === null) return { acquired: false };
    const value = await holdLease(this.store, this.logger, this.lease(sandboxId, key, token), fn);
    return { acquired: true, value };
  }

  private async acquire(sandboxId: string, key: string, deadline: number): Promise<string> {
    for (let attempt = 0; ; attempt += 1) {
      const token = await tryAcquireLease(this.store, key, this.config.ttlMs);
      if (token !== null) return token;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw busy(sandboxId);
      await sleep(nextLockDelay(attempt, remaining));
    }
  }

  private lease(sandboxId: string, key: string, token: string): Lease {
    return {
      key,
      token,
      ttlMs: this.config.ttlMs,
      subject: `sandbox ${sandboxId}`,
      lostError: (reason) => new CodedError('SANDBOX_BUSY', reason, { sandboxId }),
    };
  }
}

function busy(sandboxId: string): CodedError {
  return new CodedError(
    'SANDBOX_BUSY',
    `Sandbox ${sandboxId} is busy with another operation; try again later`,
    { sandboxId },
  );
}
