import {
  chmodSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@app/config';
import { loadOrCreateKeyFile } from './key-file';
import { SECRETS_KEY_FILE, resolveSecretsKeyring } from './resolve-keyring';

describe('the generated key file (embedded default)', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'secrets-key-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('is generated beside the SQLite file with mode 0600 in a 0700 folder, and reused', () => {
    const sqlitePath = join(root, 'data', 'sandboxd.sqlite');
    const first = resolveSecretsKeyring(loadConfig({ SQLITE_PATH: sqlitePath }).store);
    const file = join(root, 'data', SECRETS_KEY_FILE);
    expect((statSync(file).mode & 0o777).toString(8)).toBe('600');
    expect((statSync(join(root, 'data')).mode & 0o777).toString(8)).toBe('700');
    expect(readdirSync(join(root, 'data'))).toEqual([SECRETS_KEY_FILE]);
    const again = resolveSecretsKeyring(loadConfig({ SQLITE_PATH: sqlitePath }).store);
    expect(again.keyId).toBe(first.keyId);
    expect(again.open('s', 'N', first.seal('s', 'N', 'v'))).toBe('v');
  });

  it('tightens a key file readable by others, and refuses a malformed one', () => {
    const file = join(root, SECRETS_KEY_FILE);
    writeFileSync(file, `${'ab'.repeat(31)}cd\n`, { mode: 0o644 });
    chmodSync(file, 0o644);
    loadOrCreateKeyFile(file);
    expect((statSync(file).mode & 0o777).toString(8)).toBe('600');
    writeFileSync(file, 'not a key');
    expect(() => loadOrCreateKeyFile(file)).toThrow(/secrets\.key must be 32 random bytes/);
    expect(readFileSync(file, 'utf8')).toBe('not a key');
  });

  it('does not follow a symlink planted in its place', () => {
    const target = join(root, 'elsewhere');
    writeFileSync(target, `${'ab'.repeat(31)}cd\n`);
    symlinkSync(target, join(root, SECRETS_KEY_FILE));
    expect(() => loadOrCreateKeyFile(join(root, SECRETS_KEY_FILE))).toThrow(/symbolic link/);
  });

  it('prefers SECRETS_KEY, and with PostgreSQL refuses to start without it', () => {
    const key = 'ab'.repeat(31) + 'cd';
    const sqlitePath = join(root, 'sandboxd.sqlite');
    expect(
      resolveSecretsKeyring(loadConfig({ SQLITE_PATH: sqlitePath, SECRETS_KEY: key }).store).source,
    ).toBe('SECRETS_KEY');
    expect(readdirSync(root)).toEqual([]);
    expect(() =>
      resolveSecretsKeyring(loadConfig({ DATABASE_URL: 'postgres://x/y' }).store),
    ).toThrow(/SECRETS_KEY must be set when DATABASE_URL is set/);
    expect(
      resolveSecretsKeyring(loadConfig({ DATABASE_URL: 'postgres://x/y', SECRETS_KEY: key }).store)
        .source,
    ).toBe('SECRETS_KEY');
  });
});
