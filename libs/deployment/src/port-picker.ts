export interface PortRange {
  readonly from: number;
  readonly to: number;
}

/** Random probes before falling back to a full walk; plenty while the range is mostly free. */
const RANDOM_PROBES = 32;

/**
 * Picks `count` distinct ports of `range` for which `isTaken` is false, or null when the range
 * does not have that many free. Random rather than lowest-first: two sandboxd processes sharing an
 * engine scan at about the same time, and lowest-first would make both pick the same port.
 */
export function pickPorts(
  range: PortRange,
  count: number,
  isTaken: (port: number) => boolean,
  random: () => number = Math.random,
): number[] | null {
  const size = range.to - range.from + 1;
  const picked = new Set<number>();
  const unavailable = (port: number): boolean => picked.has(port) || isTaken(port);
  const randomPort = (): number => range.from + Math.min(size - 1, Math.floor(random() * size));

  while (picked.size < count) {
    let found: number | null = null;
    for (let probe = 0; probe < RANDOM_PROBES && found === null; probe += 1) {
      const port = randomPort();
      if (!unavailable(port)) found = port;
    }
    // A crowded range: walk it once from a random start so a free port is found if one exists.
    if (found === null) {
      const start = randomPort() - range.from;
      for (let step = 0; step < size && found === null; step += 1) {
        const port = range.from + ((start + step) % size);
        if (!unavailable(port)) found = port;
      }
    }
    if (found === null) return null;
    picked.add(found);
  }
  return [...picked];
}
