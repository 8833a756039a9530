import { InvalidArgumentError } from 'commander';
import { UsageError } from './errors';
import { ago, integer, integers, keyValues, table } from './format';

describe('sandboxctl formatting and parsing', () => {
  it('should split K=V pairs at the first "=" and refuse pairs without a key', () => {
    expect(keyValues(['A=1', 'B=x=y', 'C='], '--env')).toEqual({ A: '1', B: 'x=y', C: '' });
    expect(keyValues(undefined, '--env')).toBeUndefined();
    expect(() => keyValues(['=1'], '--env')).toThrow(UsageError);
    expect(() => keyValues(['NOVALUE'], '--label')).toThrow('--label "NOVALUE"');
  });

  it('should parse whole numbers within bounds, also repeated', () => {
    expect(integer(0)('0')).toBe(0);
    expect(() => integer(1, 65535)('65536')).toThrow(InvalidArgumentError);
    expect(() => integer(1)('1.5')).toThrow(InvalidArgumentError);
    expect(integers(1, 65535)('443', [80])).toEqual([80, 443]);
  });

  it('should render a borderless table without trailing spaces', () => {
    expect(
      table(
        ['ID', 'NAME'],
        [
          ['a', 'x'],
          ['bbb', ''],
        ],
      ).split('\n'),
    ).toEqual(['ID    NAME', 'a     x', 'bbb']);
  });

  it('should say how long ago something happened', () => {
    const now = Date.parse('2026-01-02T00:00:00Z');
    expect(ago('2026-01-01T23:59:50Z', now)).toBe('10s ago');
    expect(ago('2026-01-01T23:55:00Z', now)).toBe('5m ago');
    expect(ago('2026-01-01T21:00:00Z', now)).toBe('3h ago');
    expect(ago('2025-12-30T00:00:00Z', now)).toBe('3d ago');
    expect(ago(null, now)).toBe('');
  });
});
