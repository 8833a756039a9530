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
/**
 * Set on a container made ahead of time for the warm pool; the value identifies the pool (its
 * image and limits). Labels cannot change after create, so a claimed member keeps it: whether a
 * pool container is still idle is decided by the absence of a sandbox record with its id.
 */
export const LABEL_POOL = `${LABEL_PREFIX}pool`;
/** Set on the sandbox network sandboxd made (SandboxNetwork); the value is the instance that made it. */
export const LABEL_NETWORK = `${LABEL_PREFIX}network`;

/** Docker `label` filter values selecting our containers, narrowed by owner if asked. */
export function ownedLabelFilters(filter: OwnedFilter = {}): string[] {
  const labels = [`${LABEL_MANAGED}=true`];
  if (filter.instanceId !== undefined) labels.push(`${LABEL_INSTANCE}=${filter.instanceId}`);
  if (filter.sandboxId !== undefined) labels.push(`${LABEL_SANDBOX_ID}=${filter.sandboxId}`);
  if (filter.pooled) labels.push(LABEL_POOL);
  return labels;
}
