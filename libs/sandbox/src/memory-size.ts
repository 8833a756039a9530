/**
 * Docker-style memory sizes: a number with an optional binary unit b, k, m, g, t (case-insensitive,
 * optional trailing "b" or "ib": "512m", "2g", "1.5GiB"). A bare number means bytes, as in Docker.
 */
const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};

export const MEMORY_SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?$/i;

/** Bytes for a size string, or null when the text is not a size. */
export function parseMemorySize(text: string): number | null {
  const match = MEMORY_SIZE_PATTERN.exec(text.trim());
  if (!match) return null;
  const bytes = Math.floor(Number(match[1]) * UNITS[match[2].toLowerCase()]);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** The shortest exact Docker-style rendering of a byte count ("512m", "2g", "1536k"). */
export function formatMemorySize(bytes: number): string {
  // Zero is a multiple of every unit: "0", not "0t" (a tenant that holds nothing, a 0 limit).
  if (bytes === 0) return '0';
  for (const unit of ['t', 'g', 'm', 'k'] as const) {
    if (bytes % UNITS[unit] === 0) return `${bytes / UNITS[unit]}${unit}`;
  }
  return `${bytes}`;
}
