import { NO_TENANT_LIMITS } from '@app/domain';
import { tenantQuotaRefusal } from './tenant-quota';

const GIB = 1024 ** 3;
const usage = { sandboxes: 2, liveSandboxes: 1, cpus: 3, memoryBytes: 3 * GIB };

describe(tenantQuotaRefusal.name, () => {
  it('should find nothing to refuse without limits', () => {
    expect(tenantQuotaRefusal('t', NO_TENANT_LIMITS, usage, { cpus: 64, memoryBytes: null })).toBe(
      null,
    );
  });

  it('should admit a create that exactly fills every limit', () => {
    const limits = { maxSandboxes: 3, maxCpus: 3.3, maxMemoryBytes: 4 * GIB };
    // 3 + 0.3 is 3.3000000000000003 in floats: the last share of a limit must still fit.
    expect(tenantQuotaRefusal('t', limits, usage, { cpus: 0.3, memoryBytes: GIB })).toBeNull();
  });

  it('should refuse the first limit passed, with the numbers', () => {
    const limits = { maxSandboxes: 2, maxCpus: 1, maxMemoryBytes: 1 };
    expect(tenantQuotaRefusal('t', limits, usage, { cpus: 1, memoryBytes: 1 })).toMatchObject({
      code: 'TENANT_QUOTA_EXCEEDED',
      details: { tenant: 't', limit: 'maxSandboxes', max: 2, current: 2, requested: 1 },
    });
  });

  it('should refuse a sandbox without a CPU or memory limit under such a tenant limit', () => {
    const cpus = { ...NO_TENANT_LIMITS, maxCpus: 100 };
    expect(tenantQuotaRefusal('t', cpus, usage, { cpus: null, memoryBytes: GIB })).toMatchObject({
      details: { limit: 'maxCpus', requested: null },
      message: expect.stringContaining('without a CPU limit'),
    });
    const memory = { ...NO_TENANT_LIMITS, maxMemoryBytes: 100 * GIB };
    expect(tenantQuotaRefusal('t', memory, usage, { cpus: 1, memoryBytes: null })).toMatchObject({
      details: { limit: 'maxMemory', requested: null },
    });
  });

  it('should write memory as a size in the message', () => {
    const limits = { ...NO_TENANT_LIMITS, maxMemoryBytes: 4 * GIB };
    expect(
      tenantQuotaRefusal('team-a', limits, usage, { cpus: 1, memoryBytes: 2 * GIB })?.message,
    ).toMatch(
      /^tenant team-a would exceed its maxMemory of 4g: it holds 3g and the create asks for 2g/,
    );
  });
});
