import { chmodSync, closeSync, lstatSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../secrets/key-file';

/**
 * The SQLite database holds every sandbox's record: only the service's user may read it. Its
 * folder is made 0700 when we create it (an existing one is the operator's), the file is made
 * 0600 before better-sqlite3 opens it, and SQLite gives the -wal and -shm files it creates the
 * database file's mode; ones left by an older version are tightened too.
 */
export function prepareSqliteFiles(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: PRIVATE_DIR_MODE });
  closeSync(openSync(path, 'a', PRIVATE_FILE_MODE));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) tighten(file);
}

function tighten(file: string): void {
  let mode: number;
  try {
    const stat = lstatSync(file);
    // A symlink's own mode means nothing, and chmod would follow it to whatever it names.
    if (!stat.isFile()) return;
    mode = stat.mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if ((mode & 0o077) !== 0) chmodSync(file, PRIVATE_FILE_MODE);
}
