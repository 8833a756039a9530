/**
 * Choosing which processes of a container belong to one exec, from a snapshot of its process
 * table. Pure, so the rules are unit-tested; the snapshot comes from the host's /proc or from a
 * listing run inside the container (see exec-killer.ts).
 */

export interface ProcessEntry {
  pid: number;
  ppid: number;
  pgrp: number;
  session: number;
  /** Single-letter state from /proc/<pid>/stat; Z (zombie) and X (dead) need no killing. */
  state: string;
  /** Carries the exec's marker variable in its environment. */
  marked: boolean;
}

export interface DoomedOptions {
  /** The exec's first process, when known: every runc exec starts a session it leads. */
  leaderPid?: number;
  /** Never killed, nor their sessions (the container's init). */
  protectedPids: readonly number[];
}

/** Fields of a /proc/<pid>/stat line, the command name skipped (it may hold spaces and parens). */
export function parseStat(pid: number, text: string): Omit<ProcessEntry, 'marked'> | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const fields = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const [state, ppid, pgrp, session] = [fields[0], ...fields.slice(1, 4).map(Number)];
  if (!state || ![ppid, pgrp, session].every(Number.isInteger)) return null;
  return { pid, ppid, pgrp, session, state };
}

/** Lines `pid state ppid pgrp session marked(0|1)` as printed by the in-container listing. */
export function parseProcessTable(text: string): ProcessEntry[] {
  const entries: ProcessEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length !== 6) continue;
    const [pid, ppid, pgrp, session, marked] = [0, 2, 3, 4, 5].map((i) => Number(fields[i]));
    if (![pid, ppid, pgrp, session].every((n) => Number.isInteger(n) && n >= 0)) continue;
    entries.push({ pid, ppid, pgrp, session, state: fields[1], marked: marked === 1 });
  }
  return entries;
}

function alive(entry: ProcessEntry): boolean {
  return entry.state !== 'Z' && entry.state !== 'X';
}

/**
 * The live processes of one exec: those carrying its marker, every member of a session one of
 * them (or the leader) belongs to, and all descendants of these. A session can only be created by
 * its leader and joined by its leader's descendants, so a marked process's session holds nothing
 * foreign; sessions holding a protected process are skipped all the same.
 */
export function selectDoomed(entries: readonly ProcessEntry[], options: DoomedOptions): number[] {
  const protectedPids = new Set(options.protectedPids);
  const sessions = new Set<number>();
  for (const entry of entries) if (entry.marked) sessions.add(entry.session);
  if (options.leaderPid !== undefined && options.leaderPid > 0) sessions.add(options.leaderPid);
  for (const entry of entries) if (protectedPids.has(entry.pid)) sessions.delete(entry.session);

  const doomed = new Set<number>();
  for (const entry of entries) {
    if (entry.marked || sessions.has(entry.session)) doomed.add(entry.pid);
  }
  const children = new Map<number, number[]>();
  for (const entry of entries) {
    const siblings = children.get(entry.ppid) ?? [];
    siblings.push(entry.pid);
    children.set(entry.ppid, siblings);
  }
  const queue = [...doomed];
  while (queue.length > 0) {
    for (const child of children.get(queue.pop() as number) ?? []) {
      if (!doomed.has(child)) {
        doomed.add(child);
        queue.push(child);
      }
    }
  }
  const live = new Set(entries.filter(alive).map((entry) => entry.pid));
  return [...doomed]
    .filter((pid) => pid > 1 && live.has(pid) && !protectedPids.has(pid))
    .sort((a, b) => a - b);
}
