/**
 * Session output as ROCK's pty transcript gives it: stdout and stderr interleaved (one file here),
 * ANSI escapes removed, `\r\n` between lines, surrounding blanks stripped (Python's str.strip()).
 */
const ANSI =
  // eslint-disable-next-line no-control-regex
  /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;

export function transcriptOf(raw: Buffer, commandId: string): string {
  const text = raw
    .toString('utf8')
    // A syntax error names the command's file; on ROCK it names bash's -c string.
    .replace(new RegExp(`\\S*/c\\.${commandId}: `, 'g'), 'bash: ')
    .replace(ANSI, '');
  return text.replace(/\r?\n/g, '\r\n').trim();
}

/** The first line of the run script's answer (`<status> <code>`) and the rest (the output). */
export function splitAnswer(stdout: Buffer): {
  status: string;
  exitCode: number | null;
  output: Buffer;
} {
  const newline = stdout.indexOf(0x0a);
  const head = (newline < 0 ? stdout : stdout.subarray(0, newline)).toString('utf8').trim();
  const output = newline < 0 ? Buffer.alloc(0) : stdout.subarray(newline + 1);
  const [status = '', code = ''] = head.split(' ');
  const exitCode = /^\d+$/.test(code) ? Number(code) : null;
  return { status, exitCode, output };
}
