import { posix } from 'node:path';
import { Code, ConnectError } from '@connectrpc/connect';

/**
 * A path as envd takes it: absolute, or relative to the user's home (`/home/<user>`, `/root` for
 * the container's default user). Normalised here; the archive API keeps it inside the container.
 */
export function resolvePath(path: string, user: string | undefined): string {
  if (path.includes('\0'))
    throw new ConnectError('path must not contain NUL', Code.InvalidArgument);
  if (path === '') throw new ConnectError('path is required', Code.InvalidArgument);
  const home = user && user !== 'root' ? `/home/${user}` : '/root';
  return posix.resolve(home, path);
}

/** `drwxr-xr-x` from a type and permission bits, as envd reports `permissions`. */
export function permissionsOf(
  type: 'file' | 'directory' | 'symlink' | 'other',
  mode: number,
): string {
  const first = type === 'directory' ? 'd' : type === 'symlink' ? 'l' : '-';
  let text = first;
  for (let shift = 6; shift >= 0; shift -= 3) {
    const bits = (mode >> shift) & 7;
    text += (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + (bits & 1 ? 'x' : '-');
  }
  return text;
}
