import { readFileSync } from 'node:fs';
import { round } from './stats';

/** USER_HZ on Linux: the unit of utime and stime in /proc/<pid>/stat. */
const CLOCK_TICKS = 100;

/** utime + stime of a process, in clock ticks. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at ") ".
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** CPU time `ticks` over `wallMs` of wall time, as a share of one core (1 = one core busy). */
export function cpuShare(ticks: number, wallMs: number): number {
  return round(ticks / CLOCK_TICKS / (wallMs / 1000), 3);
}
