import { keepaliveIntervalMs, withKeepalive } from './keepalive';

async function* slow(values: string[], gapMs: number) {
  for (const value of values) {
    await new Promise((resolve) => setTimeout(resolve, gapMs));
    yield value;
  }
}

describe('withKeepalive', () => {
  it('should pass items through and put keepalives in the silences', async () => {
    const seen: string[] = [];
    for await (const item of withKeepalive(slow(['a', 'b'], 60), 25)) seen.push(item);
    expect(seen.filter((s) => s !== 'keepalive')).toEqual(['a', 'b']);
    expect(seen).toContain('keepalive');
  });

  it('should add nothing to a source that keeps talking', async () => {
    const seen: string[] = [];
    for await (const item of withKeepalive(slow(['a', 'b', 'c'], 0), 1000)) seen.push(item);
    expect(seen).toEqual(['a', 'b', 'c']);
  });
});

describe('keepaliveIntervalMs', () => {
  it('should read the header in seconds, with the SDK default and a floor', () => {
    expect(keepaliveIntervalMs('50')).toBe(50_000);
    expect(keepaliveIntervalMs(null)).toBe(50_000);
    expect(keepaliveIntervalMs('junk')).toBe(50_000);
    expect(keepaliveIntervalMs('0.01')).toBe(1000);
  });
});
