import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { printTable } from './stats';

/** The parts of a V8 .cpuprofile (Profiler.stop's answer) that a self-time summary reads. */
interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    hitCount?: number;
  }[];
  startTime: number;
  endTime: number;
}

export interface SelfTime {
  /** `name (file:line)`, the file relative to the repository (or node_modules/…). */
  frame: string;
  ms: number;
  /** Share of all samples, idle included. */
  share: number;
}

/**
 * The functions with the most self time in a .cpuprofile (samples whose top frame is that
 * function), summed over every call path, so "where does this process spend its CPU" reads off
 * the first rows. `(idle)` is time the event loop waited; `(program)` and `(garbage collector)`
 * are V8's own.
 */
export function topSelfTime(path: string, count = 25): { totalMs: number; rows: SelfTime[] } {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const hits = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0);
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const msPerHit = hits === 0 ? 0 : totalMs / hits;
  const byFrame = new Map<string, number>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url === '' ? '' : shortFile(url);
    const frame = `${functionName || '(anonymous)'}${file ? ` (${file}:${lineNumber + 1})` : ''}`;
    byFrame.set(frame, (byFrame.get(frame) ?? 0) + (node.hitCount ?? 0));
  }
  const rows = [...byFrame]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([frame, n]) => ({ frame, ms: n * msPerHit, share: hits === 0 ? 0 : n / hits }));
  return { totalMs, rows };
}

export function printSelfTime(title: string, path: string, count = 25): SelfTime[] {
  const { totalMs, rows } = topSelfTime(path, count);
  printTable(
    `${title} (${(totalMs / 1000).toFixed(1)} s profiled)`,
    ['function (file:line)', 'self ms', 'share'],
    rows.map((r) => [r.frame, r.ms.toFixed(0), `${(r.share * 100).toFixed(1)}%`]),
  );
  return rows;
}

function shortFile(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  const modules = path.lastIndexOf('node_modules/');
  if (modules >= 0) return path.slice(modules);
  return path.startsWith('/') ? relative(process.cwd(), path) : path;
}
