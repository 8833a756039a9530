/**
 * Parsers for the text the tools print. Pure, so every odd output has a unit test; each returns
 * null for output it does not recognise rather than guessing.
 */

/** `xfs_io -r -c lsproj <path>` prints `projid = 4242` (one path, one line). */
export function parseLsproj(stdout: string): number | null {
  const match = /^projid\s*=\s*(\d+)\s*$/m.exec(stdout);
  if (match === null) return null;
  const id = Number(match[1]);
  // XFS project ids are 32-bit unsigned.
  return Number.isSafeInteger(id) && id <= 0xffff_ffff ? id : null;
}

export interface MountOfPath {
  target: string;
  fstype: string;
}

/**
 * `findmnt -n -o TARGET,FSTYPE --target <path>` prints `<target> <fstype>`, the target padded with
 * spaces. A target may itself contain spaces, the file system type never does, so the type is the
 * last word and the target everything before it. findmnt writes unprintable bytes as `\xHH`.
 */
export function parseFindmnt(stdout: string): MountOfPath | null {
  const line = stdout.split('\n').find((l) => l.trim() !== '');
  if (line === undefined) return null;
  const match = /^(.*\S)\s+(\S+)\s*$/.exec(line.trim());
  if (match === null) return null;
  const target = unescapeHex(match[1]);
  return target.startsWith('/') ? { target, fstype: match[2] } : null;
}

function unescapeHex(text: string): string {
  return text.replace(/\\x([0-9a-fA-F]{2})/g, (_, hex: string) =>
    String.fromCharCode(parseInt(hex, 16)),
  );
}

export interface QuotaState {
  accounting: boolean;
  enforcement: boolean;
}

/**
 * `xfs_quota -x -c 'state -p' <mount>` prints, when project quota is on at all:
 *   Project quota state on /mnt (/dev/loop0)
 *     Accounting: ON
 *     Enforcement: ON
 * and prints nothing when it is off. null = no state block in the output.
 */
export function parseQuotaState(stdout: string): QuotaState | null {
  if (!/Project quota state on/i.test(stdout)) return null;
  const accounting = /Accounting:\s*(ON|OFF)/i.exec(stdout);
  const enforcement = /Enforcement:\s*(ON|OFF)/i.exec(stdout);
  if (accounting === null || enforcement === null) return null;
  return {
    accounting: accounting[1].toUpperCase() === 'ON',
    enforcement: enforcement[1].toUpperCase() === 'ON',
  };
}
