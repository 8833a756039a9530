import { isCodedError, SANDBOX_INFO_FIELDS } from '@app/domain';
import {
  cachedInfoOf,
  parseStoredInfo,
  parseStoredSpec,
  sandboxInfoSchema,
} from './stored-sandbox-schema';
import { makeSandboxInfo, makeSandboxSpec, testKeyring } from './testing/sandbox-fixtures';

const info = makeSandboxInfo({ id: 'sbx-1', state: 'running', operation: null });
const { env, ...rest } = makeSandboxSpec({ env: { TOKEN: 'x' } });
const spec = { ...rest, sealedEnv: testKeyring().sealEnv('sbx-1', env) };

function corruption(read: () => unknown): string {
  try {
    read();
  } catch (error) {
    if (isCodedError(error, 'RECORD_CORRUPT')) return error.message;
    throw error;
  }
  throw new Error('read did not fail');
}

describe('the stored info schema', () => {
  it('declares exactly the SandboxInfo fields', () => {
    const shape = (sandboxInfoSchema as unknown as { shape: Record<string, unknown> }).shape;
    expect(Object.keys(shape).sort()).toEqual([...SANDBOX_INFO_FIELDS].sort());
  });

  it('reads a complete info as it was written, without any other key', () => {
    expect(parseStoredInfo(JSON.stringify(info), 'sbx-1')).toEqual(info);
    expect(parseStoredInfo({ ...info, spec: { env: { TOKEN: 'secret' } } }, 'sbx-1')).toEqual(info);
  });

  it.each<[string, Record<string, unknown>]>([
    ['a missing field', { runtime: undefined }],
    ['a wrong type', { cpus: '2' }],
    ['an unknown state', { state: 'zombie' }],
    ['a non-instant date', { createdAt: 'yesterday' }],
    ['a bad history entry', { stateHistory: [{ from: 'x' }] }],
    ['a non-string label', { labels: { a: 1 } }],
  ])('answers RECORD_CORRUPT for %s, naming the sandbox and the field', (_, change) => {
    const message = corruption(() => parseStoredInfo({ ...info, ...change }, 'sbx-1'));
    expect(message).toContain('sbx-1');
    expect(message).toContain(Object.keys(change)[0]);
  });

  it('answers RECORD_CORRUPT for text that is not JSON, or JSON that is not an object', () => {
    expect(corruption(() => parseStoredInfo('{"id"', 'sbx-1'))).toContain('not JSON');
    expect(corruption(() => parseStoredInfo('[1]', 'sbx-1'))).toContain('sbx-1');
  });
});

describe('the stored spec schema', () => {
  it('reads a complete sealed spec', () => {
    expect(parseStoredSpec(JSON.stringify(spec), 'sbx-1')).toEqual(spec);
  });

  it('answers RECORD_CORRUPT for a spec without a field or with a wrong value', () => {
    const old: Partial<typeof spec> = { ...spec };
    delete old.runtime;
    expect(corruption(() => parseStoredSpec(old, 'sbx-1'))).toContain('runtime');
    expect(corruption(() => parseStoredSpec({ ...spec, ports: ['80'] }, 'sbx-1'))).toContain(
      'ports',
    );
  });
});

describe('cachedInfoOf', () => {
  it('is the info of a valid entry of this sandbox', () => {
    expect(cachedInfoOf(JSON.parse(JSON.stringify(info)), 'sbx-1')).toEqual(info);
  });

  it('is null (a miss) for an invalid entry or one of another sandbox', () => {
    expect(cachedInfoOf({ ...info, protected: 'yes' }, 'sbx-1')).toBeNull();
    expect(cachedInfoOf(null, 'sbx-1')).toBeNull();
    expect(cachedInfoOf(info, 'sbx-2')).toBeNull();
  });
});
