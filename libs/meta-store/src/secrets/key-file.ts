import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { SECRETS_KEY_BYTES, SecretsKey } from '@app/config';

/** Only the service's user may read or write the key (and the database beside it). */
export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/**
 * The key of the embedded default, kept in a file beside the SQLite database: read when it
 * exists, else generated once. The file is written under a temporary name and linked into place,
 * so two processes starting together agree on one key and neither reads a half-written file.
 * A symlink is not followed (O_NOFOLLOW): whoever can plant one must not choose our key.
 */
export function loadOrCreateKeyFile(path: string): SecretsKey {
  mkdirSync(dirname(path), { recursive: true, mode: PRIVATE_DIR_MODE });
  const existing = readKeyFile(path);
  if (existing !== null) return existing;
  const temporary = join(
    dirname(path),
    `.secrets.key.${process.pid}.${randomBytes(4).toString('hex')}`,
  );
  const key = SecretsKey.fromBytes(randomBytes(SECRETS_KEY_BYTES));
  writeFileSync(temporary, `${key.toBase64()}\n`, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
  try {
    linkSync(temporary, path);
  } catch (error) {
    // Another process linked its key first: use that one.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temporary);
  }
  const stored = readKeyFile(path);
  if (stored === null) throw new Error(`${path}: the generated key file vanished`);
  return stored;
}

/** The key in `path`, or null when there is none; a looser mode is tightened to 0600. */
function readKeyFile(path: string): SecretsKey | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new Error(`${path} is a symbolic link; refusing to read a secrets key through it`);
    }
    throw error;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new Error(`${path} is not a regular file`);
    // Through the descriptor: the file we checked, whatever is renamed over the path meanwhile.
    if ((stat.mode & 0o077) !== 0) fchmodSync(fd, PRIVATE_FILE_MODE);
    return SecretsKey.parse(readFileSync(fd, 'utf8'), path);
  } finally {
    closeSync(fd);
  }
}
