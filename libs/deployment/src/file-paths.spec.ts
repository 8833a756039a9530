// @app/config's DTO decorators need the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { isCodedError } from '@app/domain';
import { normalizeContainerPath, splitPath } from './file-paths';

const any = { allowRoot: true };

function problemOf(raw: unknown, rules = any): string {
  try {
    normalizeContainerPath(raw, rules);
  } catch (error) {
    expect(isCodedError(error, 'VALIDATION_FAILED')).toBe(true);
    return (error as Error).message;
  }
  throw new Error(`${JSON.stringify(raw)} was accepted`);
}

describe('normalizeContainerPath', () => {
  it('normalises separators, dots and trailing slashes', () => {
    expect(normalizeContainerPath('/tmp//a/./b/', any)).toBe('/tmp/a/b');
    expect(normalizeContainerPath('/', any)).toBe('/');
    expect(normalizeContainerPath('//./', any)).toBe('/');
    expect(normalizeContainerPath('/a b/ü…/.hidden', any)).toBe('/a b/ü…/.hidden');
  });

  it('refuses relative, empty, NUL, over-long and non-string paths', () => {
    expect(problemOf('tmp/a')).toMatch(/absolute/);
    expect(problemOf('./tmp')).toMatch(/absolute/);
    expect(problemOf('')).toMatch(/non-empty/);
    expect(problemOf(42)).toMatch(/non-empty string/);
    expect(problemOf('/tmp/a\0b')).toMatch(/NUL/);
    expect(problemOf(`/${'a'.repeat(256)}`)).toMatch(/255 bytes/);
    expect(problemOf(`/${'a/'.repeat(2100)}`)).toMatch(/4096/);
  });

  it('refuses ".." anywhere, even where it would stay below the root', () => {
    expect(problemOf('/tmp/../etc/passwd')).toMatch(/"\.\."/);
    expect(problemOf('/../../etc/passwd')).toMatch(/"\.\."/);
    expect(problemOf('/tmp/..')).toMatch(/"\.\."/);
    // Only whole segments count.
    expect(normalizeContainerPath('/tmp/..a/b..', any)).toBe('/tmp/..a/b..');
  });

  it('refuses the root where an operation needs a name', () => {
    expect(problemOf('/', { allowRoot: false })).toMatch(/root/);
    expect(problemOf('/./', { allowRoot: false })).toMatch(/root/);
  });
});

describe('splitPath', () => {
  it('splits off the last name', () => {
    expect(splitPath('/a')).toEqual({ parent: '/', name: 'a' });
    expect(splitPath('/a/b/c')).toEqual({ parent: '/a/b', name: 'c' });
  });
});
