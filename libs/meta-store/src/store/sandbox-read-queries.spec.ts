import { makeSandboxInfo } from '../testing/sandbox-fixtures';
import { infoFromRaw } from './sandbox-read-queries';

describe('infoFromRaw', () => {
  const info = makeSandboxInfo({ id: 'sbx-1', state: 'running', operation: null });

  it('parses the JSON text of the info column', () => {
    expect(infoFromRaw(JSON.stringify(info), 'sbx-1')).toEqual(info);
  });

  it('takes a value the driver already parsed as it is', () => {
    expect(infoFromRaw({ ...info }, 'sbx-1')).toEqual(info);
  });

  it('keeps SandboxInfo fields only', () => {
    const polluted = { ...info, spec: { env: { TOKEN: 'secret' } }, version: 3 };
    expect(infoFromRaw(JSON.stringify(polluted), 'sbx-1')).toEqual(info);
  });

  it('answers RECORD_CORRUPT, naming the sandbox, for a blob that lacks a field or is not JSON', () => {
    const old: Record<string, unknown> = { ...info };
    delete old.runtime;
    expect(() => infoFromRaw(JSON.stringify(old), 'sbx-1')).toThrow(
      expect.objectContaining({ code: 'RECORD_CORRUPT', details: { sandboxId: 'sbx-1' } }),
    );
    expect(() => infoFromRaw('{"id":', 'sbx-1')).toThrow(
      expect.objectContaining({ code: 'RECORD_CORRUPT' }),
    );
  });
});
