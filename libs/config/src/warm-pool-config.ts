/** One entry of WARM_POOL: keep `size` started containers of `image` ready for creates. */
export interface WarmPoolEntry {
  readonly image: string;
  readonly size: number;
}

/** More would be a fleet, not a pool: each member is a started container holding memory. */
export const MAX_WARM_POOL_SIZE = 100;

/**
 * Parses `WARM_POOL=image:size,image:size`. The size is after the last colon, so images with a
 * tag or a registry port (`registry:5000/python:3.12:4`) read as expected. Each image may appear
 * once; a size of 0 is allowed (keeps the entry documented while it is switched off).
 */
export function parseWarmPool(text: string): WarmPoolEntry[] {
  const entries: WarmPoolEntry[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const colon = item.lastIndexOf(':');
    const image = colon > 0 ? item.slice(0, colon).trim() : '';
    const sizeText = colon > 0 ? item.slice(colon + 1).trim() : '';
    if (image === '' || !/^\d{1,3}$/.test(sizeText)) {
      throw new Error(`Invalid environment: WARM_POOL entry "${item}" must look like image:size`);
    }
    const size = Number(sizeText);
    if (size > MAX_WARM_POOL_SIZE) {
      throw new Error(
        `Invalid environment: WARM_POOL size of ${image} must be at most ${MAX_WARM_POOL_SIZE}`,
      );
    }
    if (/\s/.test(image)) {
      throw new Error(`Invalid environment: WARM_POOL image "${image}" must not contain spaces`);
    }
    if (entries.some((e) => e.image === image)) {
      throw new Error(`Invalid environment: WARM_POOL lists ${image} twice`);
    }
    entries.push({ image, size });
  }
  return entries;
}
