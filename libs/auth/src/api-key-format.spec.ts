import {
  API_KEY_PREFIX,
  apiKeyIdOf,
  digestOf,
  displayPrefixOf,
  generateApiKey,
  sameDigest,
} from './api-key-format';

describe('API key format', () => {
  it('should make keys with the prefix, a 64-bit id and 256 bits of secret', () => {
    const { id, key, keyHash } = generateApiKey();
    expect(key).toMatch(/^sbxd_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(key.startsWith(`${API_KEY_PREFIX}${id}_`)).toBe(true);
    expect(Buffer.from(key.slice(API_KEY_PREFIX.length + 17), 'base64url')).toHaveLength(32);
    expect(keyHash).toBe(digestOf(key).toString('hex'));
    expect(keyHash).not.toContain(key.slice(-43));
    expect(displayPrefixOf(id)).toBe(key.slice(0, 21));
  });

  it('should never make the same key twice', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => generateApiKey().key));
    expect(keys.size).toBe(1000);
  });

  it('should find the id only in a string shaped like a key', () => {
    const { id, key } = generateApiKey();
    expect(apiKeyIdOf(key)).toBe(id);
    expect(apiKeyIdOf(`${key}x`)).toBeNull();
    expect(apiKeyIdOf(key.slice(0, -1))).toBeNull();
    expect(apiKeyIdOf(key.toUpperCase())).toBeNull();
    expect(apiKeyIdOf(` ${key}`)).toBeNull();
    expect(apiKeyIdOf('sbxd_0123456789abcdef_' + '+'.repeat(43))).toBeNull();
    expect(apiKeyIdOf('')).toBeNull();
  });

  it('should compare digests of any length without throwing', () => {
    const a = digestOf('a');
    expect(sameDigest(a, digestOf('a'))).toBe(true);
    expect(sameDigest(a, digestOf('b'))).toBe(false);
    expect(sameDigest(a, Buffer.alloc(0))).toBe(false);
  });
});
