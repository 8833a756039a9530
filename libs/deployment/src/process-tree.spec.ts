import { parseProcessTable, parseStat, selectDoomed, type ProcessEntry } from './process-tree';

function proc(
  pid: number,
  ppid: number,
  session: number,
  extra: Partial<ProcessEntry> = {},
): ProcessEntry {
  return { pid, ppid, pgrp: session, session, state: 'S', marked: false, ...extra };
}

describe('parseStat', () => {
  it('skips a command name with spaces and parentheses', () => {
    expect(parseStat(42, '42 (my (odd) name) S 7 42 42 0 -1 4194304 57')).toEqual({
      pid: 42,
      state: 'S',
      ppid: 7,
      pgrp: 42,
      session: 42,
    });
    expect(parseStat(1, 'garbage')).toBeNull();
  });
});

describe('parseProcessTable', () => {
  it('reads the in-container listing, ignoring junk lines', () => {
    expect(parseProcessTable('1 S 0 1 1 0\n31 S 0 31 31 1\nnoise\n\n9 Z 31 31 31 0\n')).toEqual([
      proc(1, 0, 1),
      proc(31, 0, 31, { marked: true }),
      proc(9, 31, 31, { state: 'Z' }),
    ]);
  });
});

describe('selectDoomed', () => {
  // Container: init 1 and its keep-alive 7; our exec: leader 31 (session 31) with children,
  // one orphan re-parented to init, one that started its own session; another exec 50.
  const table: ProcessEntry[] = [
    proc(1, 0, 1),
    proc(7, 1, 1),
    proc(31, 0, 31, { marked: true }),
    proc(32, 31, 31, { marked: true }),
    proc(33, 1, 31, { marked: true }), // orphan, still in the session
    proc(34, 1, 34, { marked: true }), // setsid daemon
    proc(35, 34, 34), // its child that scrubbed its environment
    proc(36, 32, 36), // setsid + scrubbed: found through its parent
    proc(37, 31, 31, { state: 'Z' }), // zombie: already dead
    proc(50, 0, 50),
    proc(51, 50, 50),
  ];

  it('takes marked processes, their sessions and descendants, never the rest', () => {
    expect(selectDoomed(table, { protectedPids: [1] })).toEqual([31, 32, 33, 34, 35, 36]);
  });

  it('finds the session through the live leader even without markers', () => {
    const unmarked = table.map((entry) => ({ ...entry, marked: false }));
    expect(selectDoomed(unmarked, { leaderPid: 31, protectedPids: [1] })).toEqual([31, 32, 33, 36]);
    expect(selectDoomed(unmarked, { protectedPids: [1] })).toEqual([]);
  });

  it('never takes a protected process or its session', () => {
    const odd = [proc(1, 0, 1), proc(8, 1, 1, { marked: true }), proc(9, 1, 1)];
    expect(selectDoomed(odd, { protectedPids: [1] })).toEqual([8]);
    expect(selectDoomed(odd, { leaderPid: 1, protectedPids: [1] })).toEqual([8]);
  });
});
