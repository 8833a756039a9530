import { InvalidArgumentError } from 'commander';
import Table from 'cli-table3';
import type { SandboxView } from '@app/sdk';
import { UsageError } from './errors';

/** Collects a repeatable option (--env A=1 --env B=2) into a list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** A commander parser for whole numbers within bounds; the message names the rule. */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value) || n < min || n > max) {
      throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

/** Like integer, for a repeatable option (--port 80 --port 443). */
export function integers(min: number, max: number) {
  const parse = integer(min, max);
  return (value: string, previous: number[] = []): number[] => [...previous, parse(value)];
}

/** Turns K=V pairs into a map; the value may itself contain "=". */
export function keyValues(
  pairs: string[] | undefined,
  what: string,
): Record<string, string> | undefined {
  if (!pairs || pairs.length === 0) return undefined;
  const map: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`${what} "${pair}" must look like KEY=VALUE`);
    map[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return map;
}

/** A borderless, colourless table, like docker ps: easy to read and to grep. */
export function table(head: string[], rows: string[][]): string {
  const t = new Table({
    head,
    chars: {
      top: '',
      'top-mid': '',
      'top-left': '',
      'top-right': '',
      bottom: '',
      'bottom-mid': '',
      'bottom-left': '',
      'bottom-right': '',
      left: '',
      'left-mid': '',
      mid: '',
      'mid-mid': '',
      right: '',
      'right-mid': '',
      middle: '   ',
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  t.push(...rows);
  return t.toString().replace(/[ \t]+$/gm, '');
}

/** "8080→30001, 9000→30002" */
export function portsText(view: SandboxView): string {
  return Object.entries(view.ports)
    .map(([container, host]) => `${container}→${host}`)
    .join(', ');
}

/** "12s ago", "5m ago", "3h ago", "2d ago" */
export function ago(iso: string | null, now = Date.now()): string {
  if (!iso) return '';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86400)}d ago`;
}

export function stateText(view: SandboxView): string {
  return view.operation ? `${view.state} (${view.operation})` : view.state;
}
