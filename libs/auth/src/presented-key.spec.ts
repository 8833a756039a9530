import { presentedKeyOf } from './presented-key';

const KEY = 'sbxd_0123456789abcdef_' + 'A'.repeat(43);

describe('presentedKeyOf', () => {
  it('should read a Bearer token with any casing of the scheme', () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      expect(presentedKeyOf({ authorization: `${scheme} ${KEY}` })).toEqual({
        kind: 'key',
        key: KEY,
      });
    }
    expect(presentedKeyOf({ authorization: `Bearer   ${KEY}  ` })).toEqual({
      kind: 'key',
      key: KEY,
    });
  });

  it('should read X-API-Key (names arrive lower-cased from node)', () => {
    expect(presentedKeyOf({ 'x-api-key': KEY })).toEqual({ kind: 'key', key: KEY });
    expect(presentedKeyOf({ 'x-api-key': [KEY] })).toEqual({ kind: 'key', key: KEY });
  });

  it('should accept both headers only with the same key', () => {
    expect(presentedKeyOf({ authorization: `Bearer ${KEY}`, 'x-api-key': KEY })).toEqual({
      kind: 'key',
      key: KEY,
    });
    expect(presentedKeyOf({ authorization: `Bearer ${KEY}`, 'x-api-key': 'other' })).toMatchObject({
      kind: 'malformed',
      problem: expect.stringMatching(/different keys/),
    });
  });

  it("should read a protocol's own key header only when neither of ours is sent", () => {
    expect(presentedKeyOf({ 'x-key': KEY }, 'X-Key')).toEqual({ kind: 'key', key: KEY });
    // Ours win: a ROCK client may keep a ROCK value of its own in X-Key beside our key.
    expect(presentedKeyOf({ 'x-key': 'k123', 'x-api-key': KEY }, 'X-Key')).toEqual({
      kind: 'key',
      key: KEY,
    });
    expect(presentedKeyOf({ 'x-key': [KEY, KEY] }, 'X-Key')).toMatchObject({ kind: 'malformed' });
    // Without the edge asking for it, X-Key is nobody's key.
    expect(presentedKeyOf({ 'x-key': KEY })).toEqual({ kind: 'none' });
  });

  it('should say none when neither header is there', () => {
    expect(presentedKeyOf({})).toEqual({ kind: 'none' });
    expect(presentedKeyOf({ cookie: 'x' })).toEqual({ kind: 'none' });
  });

  it.each([
    ['another scheme', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
    ['a bare token', { authorization: KEY }],
    ['Bearer alone', { authorization: 'Bearer' }],
    ['Bearer with a space inside the token', { authorization: 'Bearer a b' }],
    ['an empty X-API-Key', { 'x-api-key': '' }],
    ['a repeated X-API-Key', { 'x-api-key': [KEY, KEY] }],
    ['a key joined from two headers', { 'x-api-key': `${KEY}, ${KEY}` }],
    ['Latin-1 bytes', { 'x-api-key': 'sbxd_\u00e9\u00ff' }],
    ['control characters', { 'x-api-key': 'a\u0001b' }],
    ['an overlong key', { 'x-api-key': 'a'.repeat(513) }],
    ['an overlong Authorization', { authorization: `Bearer ${'a'.repeat(10_000)}` }],
  ])('should call %s malformed', (_what, headers) => {
    expect(presentedKeyOf(headers)).toMatchObject({ kind: 'malformed' });
  });
});
