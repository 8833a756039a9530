import { Logger } from '@nestjs/common';
import { SandboxMetaStore } from '@app/meta-store';
import type { UsageDrift } from '@app/meta-store';
import type { DriftItem, ReconcileAction } from './sandbox-reconciler';
import { SandboxMetrics } from './sandbox-metrics';

const logger = new Logger('UsageDrift');

/** A usage counter that differs from the sum over the rows, as the reconcile report shows it. */
export function usageDriftItem(drift: UsageDrift): DriftItem {
  return {
    kind: 'usage-drift',
    sandboxId: null,
    containerId: null,
    detail: `${drift.scope} ${drift.counter}: the counter holds ${drift.stored}, the sandbox rows sum to ${drift.truth}`,
  };
}

/**
 * Fixes the usage counters admission reserves on (SandboxMetaStore.reconcileUsage) and says what
 * was wrong: drift means a manual edit of the database, a bug, or a process of an older release
 * writing rows without the counters; a warning names each counter.
 */
export async function reconcileUsage(
  store: SandboxMetaStore,
  metrics: SandboxMetrics,
): Promise<ReconcileAction[]> {
  const fixed = await store.reconcileUsage();
  for (const drift of fixed) {
    logger.warn(`usage counter fixed: ${usageDriftItem(drift).detail}`);
    metrics.reconciled.inc({ kind: 'usage-drift' });
  }
  return fixed.map((drift) => ({ ...usageDriftItem(drift), outcome: 'repaired' }));
}
