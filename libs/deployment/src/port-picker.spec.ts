import { pickPorts } from './port-picker';

/** A deterministic "random" source cycling through the given fractions. */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length];
}

describe('pickPorts', () => {
  const range = { from: 30000, to: 30009 };

  it('returns the requested number of distinct ports inside the range', () => {
    const ports = pickPorts(range, 5, () => false);
    expect(ports).toHaveLength(5);
    expect(new Set(ports).size).toBe(5);
    for (const port of ports ?? []) {
      expect(port).toBeGreaterThanOrEqual(30000);
      expect(port).toBeLessThanOrEqual(30009);
    }
  });

  it('never returns a used port', () => {
    const used = new Set([30000, 30001, 30002, 30004, 30005, 30006, 30007, 30008]);
    for (let i = 0; i < 50; i += 1) {
      expect(pickPorts(range, 2, (port) => used.has(port))?.sort()).toEqual([30003, 30009]);
    }
  });

  it('finds the last free port even when random probes keep hitting used ones', () => {
    // The random source always points at 30000, which is used: only the walk can find 30007.
    const ports = pickPorts(range, 1, (port) => port !== 30007, sequence(0));
    expect(ports).toEqual([30007]);
  });

  it('returns null when the range has fewer free ports than needed', () => {
    expect(pickPorts(range, 1, () => true)).toBeNull();
    expect(pickPorts(range, 3, (port) => port < 30008)).toBeNull();
    expect(pickPorts({ from: 40000, to: 40000 }, 2, () => false)).toBeNull();
  });

  it('returns an empty list when nothing is needed', () => {
    expect(pickPorts(range, 0, () => true)).toEqual([]);
  });

  it('spreads picks over the range instead of always taking the lowest', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 200; i += 1) seen.add(pickPorts(range, 1, () => false)?.[0] ?? -1);
    expect(seen.size).toBeGreaterThan(5);
  });

  it('handles the top of the range when random() is close to 1', () => {
    expect(
      pickPorts(
        range,
        1,
        () => false,
        () => 0.9999999,
      ),
    ).toEqual([30009]);
  });
});
