import { SANDBOX_INFO_FIELDS } from '../sandbox-info';
import { makeSandboxInfo } from '../testing/sandbox-fixtures';
import { infoFromRaw } from './sandbox-read-queries';

describe('infoFromRaw', () => {
  const info = makeSandboxInfo({ id: 'sbx-1', state: 'running', operation: null });

  it('parses the JSON text of the info column', () => {
    expect(infoFromRaw(JSON.stringify(info))).toEqual(info);
  });

  it('takes a value the driver already parsed as it is', () => {
    expect(infoFromRaw({ ...info })).toEqual(info);
  });

  it('keeps SandboxInfo fields only', () => {
    const polluted = { ...info, spec: { env: { TOKEN: 'secret' } }, version: 3 };
    expect(infoFromRaw(JSON.stringify(polluted))).toEqual(info);
  });

  it('fills the fields a record stored by an older version lacks, keeping stored nulls', () => {
    const old: Record<string, unknown> = { ...info, autoStopAt: null };
    for (const key of ['protected', 'runtime', 'disk', 'lastActivityAt']) delete old[key];
    const read = infoFromRaw(JSON.stringify(old));
    expect(Object.keys(read).sort()).toEqual([...SANDBOX_INFO_FIELDS].sort());
    expect(read).toMatchObject({ protected: false, runtime: 'runc', disk: null, autoStopAt: null });
  });
});
