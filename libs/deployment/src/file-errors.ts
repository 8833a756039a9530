import { CodedError } from '@app/domain';

/** Errors of the file operations; each names the path and keeps the API's `details.fields`. */

function pathError(
  code: 'FILE_NOT_FOUND' | 'NOT_A_DIRECTORY' | 'NOT_A_FILE' | 'SYMLINK_LOOP',
  path: string,
  problem: string,
): CodedError {
  return new CodedError(code, `path ${path}: ${problem}`, { fields: { path: [problem] }, path });
}

export function fileNotFound(path: string): CodedError {
  return pathError('FILE_NOT_FOUND', path, 'no such file or directory in the container');
}

export function symlinkLoop(path: string): CodedError {
  return pathError('SYMLINK_LOOP', path, 'too many levels of symbolic links (a symlink loop)');
}

export function notADirectory(path: string): CodedError {
  return pathError('NOT_A_DIRECTORY', path, 'is not a directory');
}

/** A directory or a special file where a regular file is needed. */
export function notAFile(path: string, actual: string): CodedError {
  return pathError('NOT_A_FILE', path, `is a ${actual}, not a regular file`);
}

export function fileTooLarge(path: string, maxBytes: number, size?: number): CodedError {
  const actual = size === undefined ? 'more' : `${size} bytes`;
  return new CodedError(
    'FILE_TOO_LARGE',
    `file ${path} is too large: ${actual}, at most ${maxBytes} bytes allowed`,
    { path, maxBytes, ...(size === undefined ? {} : { size }) },
  );
}
