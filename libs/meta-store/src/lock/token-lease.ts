import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { describeError } from '@app/domain';
import { KeyValueStore } from '../kv/key-value-store';

/**
 * A lease on a key of the KeyValueStore: the value is a random token, so only its holder can renew
 * or release it, and a crashed holder's lease frees itself when the TTL runs out. The mechanics
 * shared by SandboxLock (per sandbox) and TaskLock (per cluster-wide task).
 */
export interface Lease {
  key: string;
  token: string;
  ttlMs: number;
  /** What the lease guards, for logs: "sandbox sbx-1", "task auto-stop". */
  subject: string;
  /** The abort reason handed to the holder when the lease is lost. */
  lostError(reason: string): Error;
}

/** One SET NX PX attempt with a fresh token; the token when this call took the key, else null. */
export async function tryAcquireLease(
  store: KeyValueStore,
  key: string,
  ttlMs: number,
): Promise<string | null> {
  const token = randomUUID();
  return (await store.setIfAbsent(key, token, ttlMs)) ? token : null;
}

/**
 * Runs `fn` while renewing the acquired lease, then releases it (also when `fn` throws). The signal
 * aborts if the lease is lost: `fn` should then stop making changes, as another holder may already
 * be running.
 */
export async function holdLease<T>(
  store: KeyValueStore,
  logger: Logger,
  lease: Lease,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const stopRenewing = keepRenewing(store, logger, lease, controller);
  try {
    return await fn(controller.signal);
  } finally {
    stopRenewing();
    await release(store, logger, lease);
  }
}

/**
 * Extends the TTL every ttl/3, so two renewals can fail before the lease lapses. A timer chain
 * (not setInterval) so a slow store never causes overlapping renewals. Returns the stopper.
 */
function keepRenewing(
  store: KeyValueStore,
  logger: Logger,
  lease: Lease,
  controller: AbortController,
): () => void {
  const { key, token, ttlMs } = lease;
  let lastConfirmedAt = Date.now();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const lose = (reason: string): void => {
    // A renewal still in flight when fn finished is not a loss worth reporting.
    if (stopped) return;
    stopped = true;
    logger.warn(`Lost the lock of ${lease.subject}: ${reason}`);
    controller.abort(lease.lostError(reason));
  };
  const renew = async (): Promise<void> => {
    try {
      if (await store.compareAndExpire(key, token, ttlMs)) {
        lastConfirmedAt = Date.now();
      } else {
        return lose('the lock expired or was taken by another holder');
      }
    } catch (error) {
      // Unsure whether we still hold it; only once a full TTL passed without a confirmation is it
      // certainly gone.
      if (Date.now() - lastConfirmedAt >= ttlMs) {
        return lose(`the lock could not be renewed: ${describeError(error)}`);
      }
    }
    schedule();
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => void renew(), Math.max(1, Math.floor(ttlMs / 3)));
  };

  schedule();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** Releases only our own token; on failure the TTL frees the key, so it is logged, not thrown. */
async function release(store: KeyValueStore, logger: Logger, lease: Lease): Promise<void> {
  try {
    await store.compareAndDelete(lease.key, lease.token);
  } catch (error) {
    logger.warn(`Could not release ${lease.key} (it expires by itself): ${describeError(error)}`);
  }
}
