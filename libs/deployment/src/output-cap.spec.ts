import { OutputCap } from './output-cap';

describe('OutputCap', () => {
  it('passes everything under the limit', () => {
    const cap = new OutputCap(10);
    expect(cap.take(Buffer.from('hello')).toString()).toBe('hello');
    expect(cap.take(Buffer.from('world')).toString()).toBe('world');
    expect(cap.truncated).toBe(false);
  });

  it('cuts the chunk that crosses the limit and drops the rest, counting it', () => {
    const cap = new OutputCap(8);
    expect(cap.take(Buffer.from('hello')).toString()).toBe('hello');
    expect(cap.take(Buffer.from('world')).toString()).toBe('wor');
    expect(cap.take(Buffer.from('more')).length).toBe(0);
    expect(cap.truncated).toBe(true);
    expect(cap.droppedBytes).toBe(6);
  });

  it('with a zero limit keeps nothing', () => {
    const cap = new OutputCap(0);
    expect(cap.take(Buffer.from('x')).length).toBe(0);
    expect(cap.truncated).toBe(true);
    expect(new OutputCap(0).truncated).toBe(false);
  });
});
