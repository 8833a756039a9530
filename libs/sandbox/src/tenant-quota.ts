import { CodedError } from '@app/domain';
import type { SandboxSpec, TenantLimits, TenantUsage } from '@app/domain';
import { formatMemorySize } from './memory-size';

/** The limits as the API names them (maxMemory is written as a size, e.g. "8g"). */
export type TenantLimitName = 'maxSandboxes' | 'maxCpus' | 'maxMemory';

/**
 * 429 TENANT_QUOTA_EXCEEDED naming the first limit that `spec`, added to what the tenant holds,
 * would pass; null when it fits them all. `details`: the tenant, the limit's name (`limit`), its
 * value (`max`), what the tenant holds now (`current`) and what the create asks (`requested`);
 * memory in bytes. A sandbox without a CPU or memory limit cannot be counted against one, so under
 * such a limit it is refused too (the API always gives one: DEFAULT_CPUS, DEFAULT_MEMORY).
 */
export function tenantQuotaRefusal(
  tenant: string,
  limits: TenantLimits,
  usage: TenantUsage,
  spec: Pick<SandboxSpec, 'cpus' | 'memoryBytes'>,
): CodedError | null {
  const { maxSandboxes, maxCpus, maxMemoryBytes } = limits;
  if (maxSandboxes !== null && usage.sandboxes + 1 > maxSandboxes) {
    return refusal(tenant, 'maxSandboxes', maxSandboxes, usage.sandboxes, 1, (n) => `${n}`);
  }
  if (maxCpus !== null && (spec.cpus === null || usage.cpus + spec.cpus > maxCpus + 1e-9)) {
    return refusal(tenant, 'maxCpus', maxCpus, usage.cpus, spec.cpus, (n) => `${round(n)} CPUs`);
  }
  if (
    maxMemoryBytes !== null &&
    (spec.memoryBytes === null || usage.memoryBytes + spec.memoryBytes > maxMemoryBytes)
  ) {
    return refusal(
      tenant,
      'maxMemory',
      maxMemoryBytes,
      usage.memoryBytes,
      spec.memoryBytes,
      formatMemorySize,
    );
  }
  return null;
}

function refusal(
  tenant: string,
  limit: TenantLimitName,
  max: number,
  current: number,
  requested: number | null,
  show: (n: number) => string,
): CodedError {
  const asked =
    requested === null
      ? `a sandbox without a ${limit === 'maxCpus' ? 'CPU' : 'memory'} limit cannot be counted against it`
      : `it holds ${show(current)} and the create asks for ${show(requested)}`;
  return new CodedError(
    'TENANT_QUOTA_EXCEEDED',
    `tenant ${tenant} would exceed its ${limit} of ${show(max)}: ${asked} (delete sandboxes it no longer needs, or ask the admin to raise the limit)`,
    { tenant, limit, max, current, requested },
  );
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
