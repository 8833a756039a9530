import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Logger } from '@nestjs/common';
import { AppConfig, CodedError, describeError } from '@app/config';
import { KeyValueStore } from '../kv/key-value-store';
import { nextLockDelay } from './lock-backoff';

/** The lock's key, shared by every instance on the same store. */
export function sandboxLockKey(sandboxId: string): string {
  return `sandbox:${sandboxId}:lock`;
}

/**
 * A per-sandbox mutex held in the KeyValueStore, so commands on one sandbox are serialized across
 * every sandboxd process sharing a Redis. The value is a random token: only its holder can renew
 * or release it, and a crashed holder's lock frees itself when its TTL runs out.
 */
@Injectable()
export class SandboxLock {
  private readonly logger = new Logger(SandboxLock.name);

  constructor(
    private readonly store: KeyValueStore,
    private readonly config: AppConfig,
  ) {}

  /**
   * Runs `fn` while holding the sandbox's lock. The signal aborts if the lock is lost (renewal
   * found another token, or the store was unreachable for a whole TTL): `fn` should then stop
   * making changes, as another holder may already be running.
   */
  async withLock<T>(sandboxId: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const key = sandboxLockKey(sandboxId);
    const token = randomUUID();
    await this.acquire(sandboxId, key, token);
    const controller = new AbortController();
    const stopRenewing = this.keepRenewing(sandboxId, key, token, controller);
    try {
      return await fn(controller.signal);
    } finally {
      stopRenewing();
      await this.release(key, token);
    }
  }

  private async acquire(sandboxId: string, key: string, token: string): Promise<void> {
    const deadline = Date.now() + this.config.lockWaitMs;
    for (let attempt = 0; ; attempt += 1) {
      if (await this.store.setIfAbsent(key, token, this.config.lockTtlMs)) return;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new CodedError(
          'SANDBOX_BUSY',
          `Sandbox ${sandboxId} is busy with another operation; try again later`,
          { sandboxId },
        );
      }
      await sleep(nextLockDelay(attempt, remaining));
    }
  }

  /**
   * Extends the TTL every ttl/3, so two renewals can fail before the lock lapses. A timer chain
   * (not setInterval) so a slow store never causes overlapping renewals. Returns the stopper.
   */
  private keepRenewing(
    sandboxId: string,
    key: string,
    token: string,
    controller: AbortController,
  ): () => void {
    const ttl = this.config.lockTtlMs;
    let lastConfirmedAt = Date.now();
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;

    const lose = (reason: string): void => {
      // A renewal still in flight when fn finished is not a loss worth reporting.
      if (stopped) return;
      stopped = true;
      this.logger.warn(`Lost the lock of sandbox ${sandboxId}: ${reason}`);
      controller.abort(new CodedError('SANDBOX_BUSY', reason, { sandboxId }));
    };
    const renew = async (): Promise<void> => {
      try {
        if (await this.store.compareAndExpire(key, token, ttl)) {
          lastConfirmedAt = Date.now();
        } else {
          return lose('the lock expired or was taken by another holder');
        }
      } catch (error) {
        // Unsure whether we still hold it; only once a full TTL passed without a confirmation is
        // it certainly gone.
        if (Date.now() - lastConfirmedAt >= ttl) {
          return lose(`the lock could not be renewed: ${describeError(error)}`);
        }
      }
      schedule();
    };
    const schedule = (): void => {
      if (stopped) return;
      timer = setTimeout(() => void renew(), Math.max(1, Math.floor(ttl / 3)));
    };

    schedule();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }

  /** Releases only our own token; on failure the TTL frees the lock, so it is logged, not thrown. */
  private async release(key: string, token: string): Promise<void> {
    try {
      await this.store.compareAndDelete(key, token);
    } catch (error) {
      this.logger.warn(`Could not release ${key} (it expires by itself): ${describeError(error)}`);
    }
  }
}
