import { decodeActor, encodeActor, isClusterSecret } from './cluster-headers';

describe('cluster headers', () => {
  it('round-trips an actor, and refuses what encodeActor never makes', () => {
    const tenant = { kind: 'tenant' as const, tenant: 'team-a', keyId: 'k1' };
    expect(decodeActor(encodeActor(tenant))).toEqual(tenant);
    const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    expect(decodeActor(forged({ kind: 'root', tenant: null, keyId: null }))).toBeNull();
    expect(decodeActor(forged({ kind: 'tenant', tenant: null, keyId: 'k' }))).toBeNull();
    expect(decodeActor(forged({ kind: 'admin', tenant: 'team-a', keyId: null }))).toBeNull();
    expect(decodeActor(forged({ kind: 'tenant', tenant: '../x', keyId: null }))).toBeNull();
    expect(decodeActor('not base64 json')).toBeNull();
    expect(decodeActor(undefined)).toBeNull();
    expect(decodeActor('x'.repeat(2000))).toBeNull();
  });

  it('compares the secret exactly, and never matches without one configured', () => {
    expect(isClusterSecret('s'.repeat(32), 's'.repeat(32))).toBe(true);
    expect(isClusterSecret('s'.repeat(32), 's'.repeat(31))).toBe(false);
    expect(isClusterSecret('s'.repeat(32), ['s'.repeat(32)])).toBe(false);
    expect(isClusterSecret(null, '')).toBe(false);
  });
});
