import { randomBytes } from 'node:crypto';
import { SecretsKey } from '@app/config';
import { isCodedError } from '@app/domain';
import { makeSandboxSpec } from '../testing/sandbox-fixtures';
import { SecretsKeyring, isSealedValue } from './secrets-keyring';

const keyring = (bytes = randomBytes(32)) =>
  new SecretsKeyring(SecretsKey.fromBytes(bytes), 'the test key');

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isCodedError(error) ? error.code : 'not-coded';
  }
  return undefined;
}

describe('SecretsKeyring', () => {
  const ring = keyring();

  it('opens what it sealed, for any value (empty, unicode, long)', () => {
    for (const value of ['', 'p@ss', 'ü🔑\u0001', 'x'.repeat(100_000)]) {
      const token = ring.seal('sbx-1', 'TOKEN', value);
      expect(isSealedValue(token)).toBe(true);
      expect(token).not.toContain(value === '' ? 'never' : value);
      expect(ring.open('sbx-1', 'TOKEN', token)).toBe(value);
    }
  });

  it('seals the same value differently each time (a random nonce per value)', () => {
    expect(ring.seal('sbx-1', 'A', 'same')).not.toBe(ring.seal('sbx-1', 'A', 'same'));
  });

  it('names its key in every token, and the key id is not the key', () => {
    const bytes = randomBytes(32);
    const own = keyring(bytes);
    expect(own.seal('s', 'N', 'v').split(':')[1]).toBe(own.keyId);
    expect(bytes.toString('hex')).not.toContain(own.keyId);
    expect(keyring(bytes).keyId).toBe(own.keyId);
  });

  it('refuses a token of another key with SECRETS_UNREADABLE, naming sandbox and name only', () => {
    const token = keyring().seal('sbx-1', 'TOKEN', 'hunter2');
    let error: unknown;
    try {
      ring.open('sbx-1', 'TOKEN', token);
    } catch (caught) {
      error = caught;
    }
    expect(isCodedError(error, 'SECRETS_UNREADABLE')).toBe(true);
    expect((error as Error).message).toMatch(/TOKEN of sandbox sbx-1/);
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('refuses a value moved to another sandbox or name, altered, truncated or in clear', () => {
    const token = ring.seal('sbx-1', 'TOKEN', 'hunter2');
    const flipped = token.slice(0, -2) + (token.endsWith('A') ? 'B' : 'A') + token.slice(-1);
    expect(codeOf(() => ring.open('sbx-2', 'TOKEN', token))).toBe('SECRETS_UNREADABLE');
    expect(codeOf(() => ring.open('sbx-1', 'OTHER', token))).toBe('SECRETS_UNREADABLE');
    expect(codeOf(() => ring.open('sbx-1', 'TOKEN', flipped))).toBe('SECRETS_UNREADABLE');
    expect(codeOf(() => ring.open('sbx-1', 'TOKEN', token.slice(0, 40)))).toBe(
      'SECRETS_UNREADABLE',
    );
    expect(codeOf(() => ring.open('sbx-1', 'TOKEN', 'hunter2'))).toBe('SECRETS_UNREADABLE');
  });

  it('seals and opens a spec: the record field holds no value in clear', () => {
    const spec = makeSandboxSpec({
      image: 'img',
      env: { A: 'alpha', B: 'beta' },
      idleTimeoutSeconds: 0,
    });
    const sealed = ring.sealSpec('sbx-1', spec);
    expect(sealed).not.toHaveProperty('env');
    expect(Object.keys(sealed.sealedEnv)).toEqual(['A', 'B']);
    expect(JSON.stringify(sealed)).not.toMatch(/alpha|beta/);
    expect(ring.openSpec('sbx-1', sealed)).toEqual(spec);
  });

  it('keys idempotency fingerprints: stable for one key, different for another', () => {
    expect(ring.fingerprint('abc')).toBe(ring.fingerprint('abc'));
    expect(ring.fingerprint('abc')).not.toBe(keyring().fingerprint('abc'));
    expect(ring.fingerprint('abc')).toMatch(/^[0-9a-f]{64}$/);
  });
});
