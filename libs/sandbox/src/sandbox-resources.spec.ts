import { loadConfig } from '@app/config';
import type { EngineFacts } from '@app/deployment';
import type { QuotaService } from '@app/quota';
import type { SandboxMetaStore, TenantLimitsStore } from '@app/meta-store';
import { toSandboxSpec } from './create-sandbox.input';
import type { CreateSandboxInput } from './create-sandbox.input';
import { SandboxResources } from './sandbox-resources';
import { FakeEngine, FakeMetaStore, FakeQuota, FakeTenantLimits } from './testing/fakes';

const GIB = 1024 ** 3;

/** Admission on a fake host of 8 CPUs and 16 GiB, with the default overcommit (4, 1.5) unless set. */
function build(env: Record<string, string> = {}, runtimes: Record<string, readonly string[]> = {}) {
  const config = loadConfig({ INSTANCE_ID: 'unit', ...env });
  const store = new FakeMetaStore();
  const limits = new FakeTenantLimits();
  const resources = new SandboxResources(
    config.resources,
    new FakeEngine(8, 16 * GIB, runtimes) as unknown as EngineFacts,
    new FakeQuota() as unknown as QuotaService,
    store as unknown as SandboxMetaStore,
    limits as unknown as TenantLimitsStore,
  );
  let inserts = 0;
  // The insert is the fake store's, which refuses a reservation like the real one.
  const admit = (input: Partial<CreateSandboxInput>, tenant: string | null = null) => {
    const spec = toSandboxSpec({ image: 'img', ...input }, config.resources);
    return resources.admit(spec, tenant, null, async (reservation) => {
      const { cpus, memoryBytes } = spec;
      await store.insert({
        info: { id: `sbx-new-${inserts}`, tenant, state: 'pending', cpus, memoryBytes } as never,
        spec: { env: {} } as never,
        machineSnapshot: null,
        machineVersion: 'test',
        reservation,
      });
      inserts += 1;
      return 'inserted';
    });
  };
  const specOf = (input: Partial<CreateSandboxInput>) =>
    toSandboxSpec({ image: 'img', ...input }, config.resources);
  return { store, limits, resources, specOf, admit, inserts: () => inserts };
}

/** Puts a sandbox holding `cpus` and `memoryBytes` into the fake store (live unless said). */
async function occupy(
  store: FakeMetaStore,
  id: string,
  cpus: number,
  memoryBytes: number,
  tenant: string | null = null,
  state = 'running',
) {
  const { record } = await store.insert({
    info: { id, tenant, state, cpus, memoryBytes } as never,
    spec: { env: {} } as never,
    machineSnapshot: null,
    machineVersion: 'test',
  });
  return record;
}

describe(SandboxResources.name, () => {
  describe('admit', () => {
    it('should answer EXCEEDS_HOST_CAPACITY naming memory for a request above the whole host', async () => {
      const { admit, inserts } = build();
      await expect(admit({ memory: '100000g' })).rejects.toMatchObject({
        code: 'EXCEEDS_HOST_CAPACITY',
        message: expect.stringMatching(
          /^memory 100000g can never fit this host.*OVERCOMMIT_MEMORY/,
        ),
        details: { resource: 'memory', requested: 100000 * GIB, capacity: 24 * GIB },
      });
      expect(inserts()).toBe(0);
    });

    it('should answer EXCEEDS_HOST_CAPACITY naming cpus for a request above the whole host', async () => {
      const { admit, inserts } = build({ OVERCOMMIT_CPU: '1' });
      await expect(admit({ cpus: 9 })).rejects.toMatchObject({
        code: 'EXCEEDS_HOST_CAPACITY',
        message: expect.stringMatching(/^cpus 9 can never fit this host.*OVERCOMMIT_CPU/),
        details: { resource: 'cpus', requested: 9, capacity: 8 },
      });
      expect(inserts()).toBe(0);
    });

    it('should count the overcommit: what fits host × OVERCOMMIT_* on an empty host is admitted', async () => {
      const { admit, inserts } = build({ OVERCOMMIT_CPU: '1', OVERCOMMIT_MEMORY: '1' });
      await expect(admit({ cpus: 8, memory: '16g' })).resolves.toBe('inserted');
      expect(inserts()).toBe(1);
    });

    it('should keep INSUFFICIENT_CAPACITY for a request that fits the host but not beside live sandboxes', async () => {
      const { store, admit, inserts } = build({ OVERCOMMIT_CPU: '1', OVERCOMMIT_MEMORY: '1' });
      await occupy(store, 'sbx-a', 6, 4 * GIB);
      await expect(admit({ cpus: 4, memory: '1g' })).rejects.toMatchObject({
        code: 'INSUFFICIENT_CAPACITY',
        details: { committedCpus: 6, capacityCpus: 8 },
      });
      await expect(admit({ cpus: 1, memory: '13g' })).rejects.toMatchObject({
        code: 'INSUFFICIENT_CAPACITY',
        message: expect.stringContaining('not enough memory'),
      });
      expect(inserts()).toBe(0);
      await expect(admit({ cpus: 2, memory: '12g' })).resolves.toBe('inserted');
    });

    it('should prefer EXCEEDS_HOST_CAPACITY over INSUFFICIENT_CAPACITY when both hold', async () => {
      const { store, admit } = build({ OVERCOMMIT_CPU: '1' });
      await occupy(store, 'sbx-a', 8, GIB);
      await expect(admit({ cpus: 16 })).rejects.toMatchObject({ code: 'EXCEEDS_HOST_CAPACITY' });
    });
  });

  describe('tenant limits', () => {
    it('should admit a tenant within its limits and leave tenant-less creates unlimited', async () => {
      const { store, limits, admit } = build();
      await limits.set('team-a', { maxSandboxes: 2, maxCpus: 4, maxMemoryBytes: 4 * GIB });
      await occupy(store, 'sbx-a', 2, 2 * GIB, 'team-a');
      await expect(admit({ cpus: 2, memory: '2g' }, 'team-a')).resolves.toBe('inserted');
      await occupy(store, 'sbx-b', 2, 2 * GIB, null);
      await occupy(store, 'sbx-c', 2, 2 * GIB, null);
      await expect(admit({ cpus: 2, memory: '2g' })).resolves.toBe('inserted');
    });

    it('should refuse with TENANT_QUOTA_EXCEEDED naming the limit, counting stopped sandboxes', async () => {
      const { store, limits, admit, inserts } = build();
      await limits.set('team-a', { maxSandboxes: 1 });
      await occupy(store, 'sbx-a', 1, GIB, 'team-a', 'stopped');
      await occupy(store, 'sbx-gone', 1, GIB, 'team-a', 'deleted');
      await expect(admit({}, 'team-a')).rejects.toMatchObject({
        code: 'TENANT_QUOTA_EXCEEDED',
        message: expect.stringContaining('maxSandboxes'),
        details: { tenant: 'team-a', limit: 'maxSandboxes', max: 1, current: 1, requested: 1 },
      });
      expect(inserts()).toBe(0);
      // Another tenant's sandboxes are not this tenant's usage.
      await expect(admit({}, 'team-b')).resolves.toBe('inserted');
    });

    it('should name maxCpus and maxMemory, memory in bytes', async () => {
      const { store, limits, admit } = build();
      await limits.set('team-a', { maxCpus: 2, maxMemoryBytes: 2 * GIB });
      await occupy(store, 'sbx-a', 1.5, GIB, 'team-a');
      await expect(admit({ cpus: 1 }, 'team-a')).rejects.toMatchObject({
        details: { limit: 'maxCpus', max: 2, current: 1.5, requested: 1 },
      });
      await expect(admit({ cpus: 0.5, memory: '1536m' }, 'team-a')).rejects.toMatchObject({
        details: { limit: 'maxMemory', max: 2 * GIB, current: GIB, requested: 1.5 * GIB },
      });
      await expect(admit({ cpus: 0.5, memory: '1g' }, 'team-a')).resolves.toBe('inserted');
    });

    it('should check the tenant before the host: the tenant can act on its own refusal', async () => {
      const { store, limits, admit } = build({ OVERCOMMIT_CPU: '1' });
      await limits.set('team-a', { maxCpus: 1 });
      await occupy(store, 'sbx-a', 8, GIB);
      await expect(admit({ cpus: 2 }, 'team-a')).rejects.toMatchObject({
        code: 'TENANT_QUOTA_EXCEEDED',
      });
    });
  });

  describe('network rules', () => {
    const RUNSC_NO_NET = { runsc: ['--platform=ptrace', '--network=none'] };

    it('should refuse published ports on a sandbox with network none, naming ports', () => {
      const { resources, specOf } = build();
      expect(() => resources.checkCaps(specOf({ network: 'none', ports: [8080] }))).toThrow(
        expect.objectContaining({
          code: 'VALIDATION_FAILED',
          details: { fields: { ports: ['cannot be published by a sandbox with network "none"'] } },
        }),
      );
      expect(() => resources.checkCaps(specOf({ network: 'none' }))).not.toThrow();
      expect(() => resources.checkCaps(specOf({ ports: [8080] }))).not.toThrow();
    });

    it('should answer NETWORK_UNSUPPORTED for bridge on a runtime registered with its network off', async () => {
      const { resources, specOf } = build({ ALLOWED_RUNTIMES: 'runc,runsc' }, RUNSC_NO_NET);
      await expect(
        resources.checkRuntimeNetwork(specOf({ runtime: 'runsc' })),
      ).rejects.toMatchObject({
        code: 'NETWORK_UNSUPPORTED',
        message: expect.stringContaining('--network=none'),
        details: {
          runtime: 'runsc',
          network: 'bridge',
          runtimeArgs: ['--platform=ptrace', '--network=none'],
        },
      });
      await expect(
        resources.checkRuntimeNetwork(specOf({ runtime: 'runsc', network: 'none' })),
      ).resolves.toBeUndefined();
    });

    it('should let bridge through on a runtime with a network, or one the engine does not know', async () => {
      const { resources, specOf } = build(
        { ALLOWED_RUNTIMES: 'runc,runsc,kata' },
        { runsc: ['--platform=ptrace', '--network=host'] },
      );
      await expect(
        resources.checkRuntimeNetwork(specOf({ runtime: 'runsc' })),
      ).resolves.toBeUndefined();
      // Unknown to the engine: the create itself fails and says so.
      await expect(
        resources.checkRuntimeNetwork(specOf({ runtime: 'kata' })),
      ).resolves.toBeUndefined();
      await expect(resources.checkRuntimeNetwork(specOf({}))).resolves.toBeUndefined();
    });
  });
});
