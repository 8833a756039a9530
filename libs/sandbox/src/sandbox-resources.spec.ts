import { loadConfig } from '@app/config';
import type { EngineFacts } from '@app/deployment';
import type { QuotaService } from '@app/quota';
import type { SandboxLock, SandboxMetaStore } from '@app/meta-store';
import { toSandboxSpec } from './create-sandbox.input';
import type { CreateSandboxInput } from './create-sandbox.input';
import { SandboxResources } from './sandbox-resources';
import { FakeEngine, FakeLock, FakeMetaStore, FakeQuota } from './testing/fakes';

const GIB = 1024 ** 3;

/** Admission on a fake host of 8 CPUs and 16 GiB, with the default overcommit (4, 1.5) unless set. */
function build(env: Record<string, string> = {}) {
  const config = loadConfig({ INSTANCE_ID: 'unit', ...env });
  const store = new FakeMetaStore();
  const resources = new SandboxResources(
    config.resources,
    new FakeEngine(8, 16 * GIB) as unknown as EngineFacts,
    new FakeQuota() as unknown as QuotaService,
    store as unknown as SandboxMetaStore,
    new FakeLock() as unknown as SandboxLock,
  );
  let inserts = 0;
  const admit = (input: Partial<CreateSandboxInput>) =>
    resources.admit(toSandboxSpec({ image: 'img', ...input }, config.resources), () => {
      inserts += 1;
      return Promise.resolve('inserted');
    });
  return { store, admit, inserts: () => inserts };
}

/** Puts a live sandbox holding `cpus` and `memoryBytes` into the fake store. */
async function occupy(store: FakeMetaStore, id: string, cpus: number, memoryBytes: number) {
  const { record } = await store.insert({
    info: { id, state: 'running', cpus, memoryBytes } as never,
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
});
