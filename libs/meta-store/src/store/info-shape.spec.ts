import { makeSandboxInfo } from '../testing/sandbox-fixtures';
import { infoShape } from './info-shape';

describe('infoShape', () => {
  const info = makeSandboxInfo({ id: 'sbx-1' });

  it('is exact for what the store writes, also after a JSON round trip', () => {
    expect(infoShape(info)).toBe('exact');
    expect(infoShape(JSON.parse(JSON.stringify(info)) as object)).toBe('exact');
  });

  it('is more when other keys come along', () => {
    expect(infoShape({ ...info, spec: {} })).toBe('more');
    expect(
      infoShape(JSON.parse(`{"__proto__": {}, ${JSON.stringify(info).slice(1)}`) as object),
    ).toBe('more');
  });

  it('is incomplete when a field is missing, even when a key stands in for it', () => {
    const rest: Record<string, unknown> = { ...info };
    delete rest.protected;
    expect(infoShape(rest)).toBe('incomplete');
    expect(infoShape({ ...rest, other: true })).toBe('incomplete');
  });

  it('counts inherited properties as missing', () => {
    expect(infoShape(Object.create(info) as object)).toBe('incomplete');
  });
});
