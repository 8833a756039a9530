import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { loadConfig } from './load-config';
import { SecretsKey } from './secrets-key';

describe('SecretsKey', () => {
  const raw = randomBytes(32);

  it('reads 64 hex digits and base64 with or without padding, standard or URL-safe', () => {
    for (const text of [
      raw.toString('hex'),
      raw.toString('hex').toUpperCase(),
      raw.toString('base64'),
      raw.toString('base64').replace(/=$/, ''),
      raw.toString('base64url'),
      `  ${raw.toString('base64')}\n`,
    ]) {
      expect(SecretsKey.parse(text).bytes().equals(raw)).toBe(true);
    }
  });

  it.each([
    ['too short', randomBytes(16).toString('base64')],
    ['too long', randomBytes(33).toString('base64')],
    ['63 hex digits', raw.toString('hex').slice(1)],
    ['not base64', '!'.repeat(44)],
    ['a passphrase', 'correct horse battery staple'],
    ['a placeholder', Buffer.alloc(32).toString('base64')],
  ])('refuses %s without echoing it', (_label, text) => {
    let message = '';
    try {
      SecretsKey.parse(text);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/SECRETS_KEY/);
    expect(message).not.toContain(text);
  });

  it('never shows its material when logged, inspected or serialized', () => {
    const key = SecretsKey.parse(raw.toString('hex'));
    const shown = [String(key), JSON.stringify({ key }), inspect({ key })].join(' ');
    expect(shown).not.toContain(raw.toString('hex'));
    expect(shown).not.toContain(raw.toString('base64'));
    expect(shown).toContain('redacted');
  });

  it('makes the service refuse to start on a malformed SECRETS_KEY', () => {
    expect(() => loadConfig({ SECRETS_KEY: 'abc' })).toThrow(/SECRETS_KEY must be 32 random bytes/);
    expect(loadConfig({ SECRETS_KEY: raw.toString('base64') }).store.secretsKey?.bytes()).toEqual(
      raw,
    );
    expect(loadConfig({ SECRETS_KEY: '' }).store.secretsKey).toBeNull();
    expect(loadConfig({}).store.secretsKey).toBeNull();
  });
});
