import { Stats, fmtMs, printTable, statsOf } from './stats';

/**
 * Where the time of one operation goes: named instants (epoch ms, from the client clock, the
 * service's answer and the engine's inspect) turned into the durations between consecutive ones.
 * All clocks are this host's, so the differences are meaningful to about a millisecond.
 */
export class Breakdown {
  private readonly phases = new Map<string, number[]>();

  /** Records the gaps between consecutive marks; a gap with a missing end is skipped. */
  add(marks: readonly (readonly [string, number | null])[]): void {
    for (let i = 1; i < marks.length; i += 1) {
      const [, from] = marks[i - 1];
      const [label, to] = marks[i];
      const name = `${marks[i - 1][0]} -> ${label}`;
      if (!this.phases.has(name)) this.phases.set(name, []);
      if (from !== null && to !== null) this.phases.get(name)?.push(to - from);
    }
  }

  stats(): Record<string, Stats> {
    return Object.fromEntries([...this.phases].map(([name, samples]) => [name, statsOf(samples)]));
  }

  print(title: string): void {
    const rows = Object.entries(this.stats()).map(([name, s]) => [
      name,
      String(s.samples),
      fmtMs(s.medianMs),
      fmtMs(s.p95Ms),
    ]);
    printTable(title, ['phase', 'n', 'median ms', 'p95 ms'], rows);
  }
}
