import { formatMemorySize, parseMemorySize } from './memory-size';

describe('parseMemorySize', () => {
  it.each([
    ['512m', 512 * 1024 ** 2],
    ['2g', 2 * 1024 ** 3],
    ['2G', 2 * 1024 ** 3],
    ['1.5g', 1.5 * 1024 ** 3],
    ['64MiB', 64 * 1024 ** 2],
    ['1024', 1024],
    ['4k', 4096],
  ])('should read %s', (text, bytes) => {
    expect(parseMemorySize(text)).toBe(bytes);
  });

  it.each(['', 'lots', '-1g', '1x', '1..2m', 'g'])('should reject %p', (text) => {
    expect(parseMemorySize(text)).toBeNull();
  });
});

describe('formatMemorySize', () => {
  it('should render the largest exact unit', () => {
    expect(formatMemorySize(512 * 1024 ** 2)).toBe('512m');
    expect(formatMemorySize(2 * 1024 ** 3)).toBe('2g');
    expect(formatMemorySize(1536 * 1024)).toBe('1536k');
    expect(formatMemorySize(1000)).toBe('1000');
  });

  it('should render zero as 0, which parses back to 0', () => {
    expect(formatMemorySize(0)).toBe('0');
    expect(parseMemorySize(formatMemorySize(0))).toBe(0);
  });
});
