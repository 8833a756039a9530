import type { OwnedFilter } from './types';

/**
 * Labels sandboxd puts on every container it creates. They are the only link between a container
 * and its sandbox that survives a restart of the service, so listing and crash recovery rely on
 * them instead of on names. User labels with `LABEL_PREFIX` are rejected upstream so that nobody
 * can forge them.
 */
export const LABEL_PREFIX = 'io.sandboxd.';
export const LABEL_MANAGED = `${LABEL_PREFIX}managed`;
export const LABEL_INSTANCE = `${LABEL_PREFIX}instance`;
export const LABEL_SANDBOX_ID = `${LABEL_PREFIX}sandbox-id`;

/** Docker `label` filter values selecting our containers, narrowed by owner if asked. */
export function ownedLabelFilters(filter: OwnedFilter = {}): string[] {
  const labels = [`${LABEL_MANAGED}=true`];
  if (filter.instanceId !== undefined) labels.push(`${LABEL_INSTANCE}=${filter.instanceId}`);
  if (filter.sandboxId !== undefined) labels.push(`${LABEL_SANDBOX_ID}=${filter.sandboxId}`);
  return labels;
}
