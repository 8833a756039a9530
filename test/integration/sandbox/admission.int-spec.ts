import { CodedError, isCodedError, ANONYMOUS_ACTOR } from '@app/domain';
import type { SandboxInfo } from '@app/domain';
import { Harness, bootHarness, sqliteBacking } from './support';

const GiB = 1024 ** 3;
/** A small host, so a few sandboxes fill it. No request below asks for more than all of it. */
const SMALL_HOST = { cpus: 4, memoryBytes: 8 * GiB };
const NO_OVERCOMMIT = {
  OVERCOMMIT_CPU: '1',
  OVERCOMMIT_MEMORY: '1',
  AUTO_DELETE_AFTER_SECONDS: '-1',
};

async function outcomeOf(create: Promise<SandboxInfo>): Promise<SandboxInfo | CodedError> {
  try {
    return await create;
  } catch (error) {
    if (isCodedError(error)) return error;
    throw error;
  }
}

function refusals(outcomes: (SandboxInfo | CodedError)[]): string[] {
  return outcomes.filter((o): o is CodedError => o instanceof CodedError).map((e) => e.code);
}

describe('SandboxResources admission on the real store', () => {
  let h: Harness;

  beforeEach(async () => {
    h = await bootHarness({ env: NO_OVERCOMMIT });
    h.engine.capacity.mockResolvedValue(SMALL_HOST);
  });

  afterEach(async () => {
    await h.close();
  });

  it('refuses a create that does not fit now with INSUFFICIENT_CAPACITY, and admits it once room is freed', async () => {
    const first = await h.createRunning({ cpus: 2, memory: '1g' });
    await h.createRunning({ cpus: 2, memory: '1g' });

    const refused = await outcomeOf(h.createRunning({ cpus: 2, memory: '1g', name: 'third' }));

    expect(refused).toBeInstanceOf(CodedError);
    expect((refused as CodedError).code).toBe('INSUFFICIENT_CAPACITY');
    expect((refused as CodedError).message).toMatch(/CPU/);
    // Nothing was recorded or provisioned for the refused create.
    expect(await h.store.load('third')).toBeNull();
    expect(h.deployment.provision).toHaveBeenCalledTimes(2);

    // A stopped sandbox commits nothing: the same request now fits.
    await h.sandboxes.stop(ANONYMOUS_ACTOR, first.id);
    expect((await h.createRunning({ cpus: 2, memory: '1g', name: 'third' })).state).toBe('running');
  });

  it('counts memory as well as CPU, naming the resource that ran out', async () => {
    await h.createRunning({ cpus: 1, memory: '3g' });
    await h.createRunning({ cpus: 1, memory: '3g' });

    const refused = await outcomeOf(h.createRunning({ cpus: 1, memory: '3g' }));

    expect((refused as CodedError).code).toBe('INSUFFICIENT_CAPACITY');
    expect((refused as CodedError).message).toMatch(/memory/);
    expect(await h.store.committedResources()).toMatchObject({ cpus: 2, memoryBytes: 6 * GiB });
  });

  it('lets concurrent creates in one process never commit more than the capacity', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 7 }, () => outcomeOf(h.createRunning({ cpus: 1, memory: '256m' }))),
    );

    expect(outcomes.filter((o) => !(o instanceof CodedError)).length).toBe(4);
    expect(refusals(outcomes)).toEqual(Array(3).fill('INSUFFICIENT_CAPACITY'));
    expect((await h.store.committedResources()).cpus).toBe(4);
  });
});

describe('SandboxResources admission across two processes sharing the store', () => {
  it('never lets two processes together commit more than the capacity', async () => {
    const backing = await sqliteBacking();
    const a = await bootHarness({ backing, env: NO_OVERCOMMIT });
    const b = await bootHarness({ backing, kv: a.kv, env: NO_OVERCOMMIT });
    try {
      for (const h of [a, b]) h.engine.capacity.mockResolvedValue(SMALL_HOST);
      const creates = [a, b, a, b, a, b].map((h) =>
        outcomeOf(h.createRunning({ cpus: 1, memory: '256m' })),
      );
      const outcomes = await Promise.all(creates);

      expect(outcomes.filter((o) => !(o instanceof CodedError)).length).toBe(4);
      expect(refusals(outcomes)).toEqual(['INSUFFICIENT_CAPACITY', 'INSUFFICIENT_CAPACITY']);
      expect((await a.store.committedResources()).cpus).toBe(4);
    } finally {
      await b.close();
      await a.close();
      await backing.close();
    }
  });
});

describe('SandboxResources caps and disk policy on the real create path', () => {
  let h: Harness | null = null;

  afterEach(async () => {
    await h?.close();
    h = null;
  });

  async function codeOf(promise: Promise<unknown>): Promise<string> {
    const outcome = await promise.then(
      () => null,
      (e: unknown) => e,
    );
    if (!isCodedError(outcome)) throw new Error(`expected a CodedError, got ${String(outcome)}`);
    return outcome.code;
  }

  it('refuses a request above MAX_CPUS or MAX_MEMORY, or a runtime not allowed, before any record', async () => {
    h = await bootHarness({ env: { MAX_CPUS: '2', MAX_MEMORY: '1g', ...NO_OVERCOMMIT } });

    expect(await codeOf(h.createRunning({ cpus: 3, name: 'too-many' }))).toBe('VALIDATION_FAILED');
    expect(await codeOf(h.createRunning({ memory: '2g', name: 'too-much' }))).toBe(
      'VALIDATION_FAILED',
    );
    expect(await codeOf(h.createRunning({ runtime: 'kata', name: 'other-rt' }))).toBe(
      'VALIDATION_FAILED',
    );
    expect(h.deployment.provision).not.toHaveBeenCalled();
    for (const name of ['too-many', 'too-much', 'other-rt']) {
      expect(await h.store.load(name)).toBeNull();
    }
  });

  it('refuses a disk it cannot enforce under DISK_LIMIT_POLICY=reject, and records it under warn', async () => {
    const unsupported = { supported: false, reason: 'storage driver is vfs, not overlay2' };
    h = await bootHarness({ env: { DISK_LIMIT_POLICY: 'reject', ...NO_OVERCOMMIT } });
    h.engine.storageInfo.mockResolvedValue({ Driver: 'vfs' });
    h.quota.detectStorageOptSupport.mockResolvedValue(unsupported);
    expect(await codeOf(h.createRunning({ disk: '1g' }))).toBe('DISK_LIMIT_UNSUPPORTED');
    await h.close();

    h = await bootHarness({ env: { DISK_LIMIT_POLICY: 'warn', ...NO_OVERCOMMIT } });
    h.engine.storageInfo.mockResolvedValue({ Driver: 'vfs' });
    h.quota.detectStorageOptSupport.mockResolvedValue(unsupported);
    const sandbox = await h.createRunning({ disk: '1g' });
    expect(sandbox.disk).toEqual({
      requested: '1g',
      requestedBytes: 1024 ** 3,
      enforced: false,
      reason: unsupported.reason,
    });
    // Detected once per process, not per create.
    await h.createRunning({ disk: '1g' });
    expect(h.quota.detectStorageOptSupport).toHaveBeenCalledTimes(1);
  });

  it('asks the engine for its capacity again after a failed answer', async () => {
    h = await bootHarness({ env: NO_OVERCOMMIT });
    h.engine.capacity.mockRejectedValueOnce(new Error('engine is restarting'));

    await expect(h.createRunning()).rejects.toThrow('engine is restarting');
    expect((await h.createRunning()).state).toBe('running');
    expect(h.engine.capacity).toHaveBeenCalledTimes(2);
  });
});
