import { Injectable } from '@nestjs/common';
import { readFile, stat } from 'node:fs/promises';
import { posix } from 'node:path';

export interface MountEntry {
  source: string;
  target: string;
  fstype: string;
  options: string[];
}

/** How the mount options set up XFS project quota. */
export type ProjectQuotaMode = 'enforced' | 'accounting-only' | 'off';

/**
 * Reads the kernel's mount table. A class (not a bare readFile) so tests can hand in a table.
 * This is the mount namespace of sandboxd's process: when sandboxd runs in a container, the
 * engine's data root may not even appear in it, and the answers below say "unknown" (off).
 */
@Injectable()
export class MountTable {
  async entries(): Promise<MountEntry[]> {
    return parseMounts(await readFile('/proc/self/mounts', 'utf8'));
  }

  /** Whether two paths lie on one file system (the same device number; a bind mount keeps it). */
  async sameDevice(a: string, b: string): Promise<boolean> {
    const [first, second] = await Promise.all([stat(a), stat(b)]);
    return first.dev === second.dev;
  }
}

/** `/proc/self/mounts` lines: `source target fstype options dump pass`, spaces escaped as `\040`. */
export function parseMounts(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 4) continue;
    const [source, target, fstype, options] = fields.map(unescapeOctal);
    entries.push({ source, target, fstype, options: options.split(',') });
  }
  return entries;
}

function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(parseInt(octal, 8)),
  );
}

/**
 * The mount a path lives on: the longest mount target that contains it; among equal targets the
 * last, because a later mount on the same directory hides the earlier one. Lexical only: symlinks
 * in the path are not resolved, so callers pass real paths.
 */
export function mountOf(entries: readonly MountEntry[], path: string): MountEntry | null {
  const normalized = posix.resolve('/', path);
  let best: MountEntry | null = null;
  for (const entry of entries) {
    const target = entry.target;
    const contains = normalized === target || target === '/' || normalized.startsWith(`${target}/`);
    if (contains && (best === null || target.length >= best.target.length)) best = entry;
  }
  return best;
}

/**
 * XFS shows `prjquota` when project quota is enforced (mounted with `prjquota` or its alias
 * `pquota`) and `pqnoenforce` when it is only accounted.
 */
export function projectQuotaMode(options: readonly string[]): ProjectQuotaMode {
  if (options.includes('prjquota') || options.includes('pquota')) return 'enforced';
  if (options.includes('pqnoenforce')) return 'accounting-only';
  return 'off';
}
