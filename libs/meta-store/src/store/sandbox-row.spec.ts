import 'reflect-metadata';
import { isCodedError } from '@app/domain';
import type { SandboxInfo, SandboxSpec, SealedSandboxSpec } from '@app/domain';
import type { SandboxEntity } from '../db/entities/sandbox.entity';
import { makeSandboxInfo, makeSandboxSpec } from '../testing/sandbox-fixtures';
import {
  buildLabelRows,
  buildSandboxRow,
  pickColumns,
  readableRecords,
  sameLabels,
  toEpochMs,
  toSandboxRecord,
} from './sandbox-row';

/** A spec as a record holds it; the sealed values are stand-ins (no cipher runs here). */
function sealedSpec(overrides: Partial<SandboxSpec> = {}): SealedSandboxSpec {
  const { env, ...rest } = makeSandboxSpec(overrides);
  const sealedEnv = Object.fromEntries(Object.keys(env).map((name) => [name, `sealed:${name}`]));
  return { ...rest, sealedEnv };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isCodedError(error) ? error.code : 'not-coded';
  }
  return undefined;
}

describe('pickColumns', () => {
  it('keeps only the listed columns', () => {
    const values = { id: 'a', state: 'running', password: 'x', spec: {} };
    expect(pickColumns(values, ['id', 'state', 'spec'])).toEqual({
      id: 'a',
      state: 'running',
      spec: {},
    });
  });

  it('does not invent missing columns', () => {
    expect(pickColumns({ id: 'a' }, ['id', 'name'])).toEqual({ id: 'a' });
  });
});

describe('buildSandboxRow', () => {
  it('mirrors the info into the scalar columns and converts times to epoch ms', () => {
    const info = makeSandboxInfo({
      id: 'sbx-1',
      name: 'web',
      state: 'running',
      labels: { team: 'a' },
      startedAt: '2026-01-01T00:00:01.000Z',
    });
    const row = buildSandboxRow(info, sealedSpec(), { value: 'x' }, 'v1', 3);
    expect(row).toMatchObject({
      id: 'sbx-1',
      name: 'web',
      state: 'running',
      operation: 'starting',
      image: 'alpine:3.20',
      labels: { team: 'a' },
      instanceId: 'test-instance',
      createdAt: Date.parse('2026-01-01T00:00:00.000Z'),
      startedAt: Date.parse('2026-01-01T00:00:01.000Z'),
      stoppedAt: null,
      deletedAt: null,
      machineSnapshot: { value: 'x' },
      machineVersion: 'v1',
      version: 3,
    });
  });

  it('mirrors the lifecycle deadlines and the protected flag into their columns', () => {
    const info = makeSandboxInfo({
      autoStopAt: '2026-01-01T00:30:00.000Z',
      autoDeleteAt: '2026-01-02T00:00:00.000Z',
      protected: true,
    });
    expect(buildSandboxRow(info, sealedSpec(), null, 'v1', 1)).toMatchObject({
      autoStopAt: Date.parse('2026-01-01T00:30:00.000Z'),
      autoDeleteAt: Date.parse('2026-01-02T00:00:00.000Z'),
      protected: true,
    });
    expect(buildSandboxRow(makeSandboxInfo(), sealedSpec(), null, 'v1', 1)).toMatchObject({
      autoStopAt: null,
      autoDeleteAt: null,
      protected: false,
    });
  });

  it('mirrors cpus and memoryBytes into their columns, null for no limit', () => {
    const info = makeSandboxInfo({ cpus: 1.5, memoryBytes: 536_870_912 });
    expect(buildSandboxRow(info, sealedSpec(), null, 'v1', 1)).toMatchObject({
      cpus: 1.5,
      memoryBytes: 536_870_912,
    });
    const unlimited = makeSandboxInfo({ cpus: null, memoryBytes: null });
    expect(buildSandboxRow(unlimited, sealedSpec(), null, 'v1', 1)).toMatchObject({
      cpus: null,
      memoryBytes: null,
    });
  });

  it('keeps the resource fields as given', () => {
    const info = makeSandboxInfo({
      pidsLimit: 256,
      runtime: 'runsc',
      disk: {
        requested: '10g',
        requestedBytes: 10_737_418_240,
        enforced: false,
        reason: 'overlay2',
      },
      logDirQuota: { shared: false, projectId: 4242, reason: null },
    });
    const spec = sealedSpec({
      pidsLimit: 256,
      diskBytes: 10_737_418_240,
      disk: '10g',
      runtime: 'runsc',
    });
    const row = buildSandboxRow(info, spec, null, 'v1', 1);
    expect(row.info).toEqual(info);
    expect(row.spec).toEqual(spec);
    expect(toSandboxRecord(row)).toMatchObject({ info, spec });
  });

  it('stores in `info` only SandboxInfo fields', () => {
    const info = { ...makeSandboxInfo(), env: { TOKEN: 'secret' }, machineSnapshot: 'x' };
    const row = buildSandboxRow(info, sealedSpec(), null, 'v1', 1);
    expect(row.info).toEqual(makeSandboxInfo());
    expect(JSON.stringify(row.info)).not.toContain('secret');
  });

  it.each([
    ['an over-long name', { name: 'n'.repeat(129) }],
    ['an empty id', { id: '' }],
    ['an over-long image', { image: 'i'.repeat(513) }],
    ['an over-long label key', { labels: { ['k'.repeat(129)]: 'v' } }],
    ['an over-long label value', { labels: { k: 'v'.repeat(513) } }],
    ['a bad timestamp', { createdAt: 'yesterday' }],
    ['a bad auto-stop deadline', { autoStopAt: 'soon' }],
    ['a bad auto-delete deadline', { autoDeleteAt: 'later' }],
    ['a bad last activity', { lastActivityAt: 'just now' }],
    ['a protected flag that is not a boolean', { protected: 1 as unknown as boolean }],
    ['negative cpus', { cpus: -1 }],
    ['cpus that are not a number', { cpus: '2' as unknown as number }],
    ['infinite cpus', { cpus: Number.POSITIVE_INFINITY }],
    ['fractional memory', { memoryBytes: 1.5 }],
    ['negative memory', { memoryBytes: -1 }],
    ['memory beyond 2^53', { memoryBytes: 2 ** 53 }],
    ['an empty runtime', { runtime: '' }],
    ['a null runtime', { runtime: null as unknown as string }],
  ])('rejects %s with VALIDATION_FAILED (SQLite would silently accept it)', (_l, overrides) => {
    const info = makeSandboxInfo(overrides);
    expect(codeOf(() => buildSandboxRow(info, sealedSpec(), null, 'v1', 1))).toBe(
      'VALIDATION_FAILED',
    );
  });

  it('accepts an empty label value', () => {
    expect(buildLabelRows('sbx-1', { flag: '' })).toEqual([
      { sandboxId: 'sbx-1', key: 'flag', value: '' },
    ]);
  });
});

describe('toSandboxRecord', () => {
  it('drops stray keys from a stored info', () => {
    const row = buildSandboxRow(makeSandboxInfo(), sealedSpec(), null, 'v1', 1);
    (row.info as unknown as Record<string, unknown>).stray = 1;
    expect(toSandboxRecord(row).info).not.toHaveProperty('stray');
  });
});

describe('toSandboxRecord of a row that fails the schema', () => {
  // BackfillStoredBlobs completed every older row, so a row without a field is corrupt.
  it.each<[string, (row: SandboxEntity) => void]>([
    ['an info without a field', (row) => delete (row.info as Partial<SandboxInfo>).protected],
    ['an info with a wrong value', (row) => Object.assign(row.info, { cpus: '2' })],
    ['a spec without a field', (row) => delete (row.spec as Partial<SealedSandboxSpec>).runtime],
    ['an info that is not an object', (row) => Object.assign(row, { info: 'text' })],
  ])('answers RECORD_CORRUPT for %s, naming the sandbox', (_, corrupt) => {
    const row = buildSandboxRow(makeSandboxInfo({ id: 'sbx-bad' }), sealedSpec(), null, 'v1', 1);
    corrupt(row);
    expect(() => toSandboxRecord(row)).toThrow(
      expect.objectContaining({ code: 'RECORD_CORRUPT', details: { sandboxId: 'sbx-bad' } }),
    );
  });

  it('is left out by readableRecords, which keeps the readable rows in order', () => {
    const rows = ['sbx-a', 'sbx-bad', 'sbx-c'].map((id) =>
      buildSandboxRow(makeSandboxInfo({ id }), sealedSpec(), null, 'v1', 1),
    );
    delete (rows[1].info as Partial<SandboxInfo>).runtime;
    expect(readableRecords(rows).map((record) => record.info.id)).toEqual(['sbx-a', 'sbx-c']);
  });
});

describe('helpers', () => {
  it('toEpochMs keeps null', () => {
    expect(toEpochMs('startedAt', null)).toBeNull();
  });

  it('sameLabels ignores key order', () => {
    expect(sameLabels({ a: '1', b: '2' }, { b: '2', a: '1' })).toBe(true);
    expect(sameLabels({ a: '1' }, { a: '1', b: '2' })).toBe(false);
    expect(sameLabels({ a: '1' }, { a: '2' })).toBe(false);
  });
});

describe('the env of a deleted sandbox', () => {
  it('is dropped from the row, values and all; the names stay in the info', () => {
    const info = makeSandboxInfo({ state: 'deleted', operation: null, envKeys: ['TOKEN'] });
    const row = buildSandboxRow(info, sealedSpec(), null, 'v1', 2);
    expect(row.spec.sealedEnv).toEqual({});
    expect(JSON.stringify(row)).not.toContain('sealed:TOKEN');
    expect(row.info.envKeys).toEqual(['TOKEN']);
  });

  it('is kept while the sandbox is not deleted', () => {
    const info = makeSandboxInfo({ state: 'stopped', operation: 'deleting' });
    expect(buildSandboxRow(info, sealedSpec(), null, 'v1', 2).spec.sealedEnv).toEqual({
      TOKEN: 'sealed:TOKEN',
    });
  });
});

describe('toSandboxRecord of a row whose env was stored in clear', () => {
  it('reads the clear values as sealed ones, which then fail to open instead of vanishing', () => {
    const row = buildSandboxRow(makeSandboxInfo(), sealedSpec(), null, 'v1', 1);
    const legacy: Record<string, unknown> = { ...row.spec, env: { TOKEN: 'clear' } };
    delete legacy.sealedEnv;
    row.spec = legacy as unknown as SealedSandboxSpec;
    expect(toSandboxRecord(row).spec.sealedEnv).toEqual({ TOKEN: 'clear' });
    expect(toSandboxRecord(row).spec).not.toHaveProperty('env');
  });
});
