// @app/config's DTO decorators need the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { MAX_JSON_DEPTH, assertJsonDepth, jsonDepth } from './json-depth';

const depthOf = (text: string): number => jsonDepth(Buffer.from(text));

describe('jsonDepth', () => {
  it.each([
    ['1', 0],
    ['{}', 1],
    ['{"a":[1,{"b":[]}]}', 4],
    ['[[],[[]]]', 3],
    ['{"s":"[[[{{{"}', 1],
    ['{"s":"quote \\" then [[["}', 1],
    ['{"s":"backslash \\\\"}', 1],
  ])('%s nests %i deep', (text, depth) => {
    expect(depthOf(text)).toBe(depth);
  });

  it('refuses past the limit, with a code', () => {
    expect(() => assertJsonDepth(Buffer.from('['.repeat(MAX_JSON_DEPTH)))).not.toThrow();
    expect(() => assertJsonDepth(Buffer.from('['.repeat(MAX_JSON_DEPTH + 1)))).toThrow(
      expect.objectContaining({ code: 'JSON_TOO_DEEP' }),
    );
  });
});
