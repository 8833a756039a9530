import { CodedError } from '@app/domain';

/**
 * Deepest nesting of arrays and objects a JSON body may have. The API's deepest body (a create's
 * `env` or `labels`) nests two levels; the limit only has to stop the recursive walks after the
 * parse (Nest's proto-key strip, class-transformer, class-validator) from overflowing the stack.
 */
export const MAX_JSON_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/**
 * The deepest nesting in `raw`, one pass over the bytes before JSON.parse: brackets inside strings
 * do not count. Malformed input is left for the parser to report; this only measures.
 */
export function jsonDepth(raw: Buffer): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i += 1) {
    const byte = raw[i];
    if (inString) {
      if (byte === BACKSLASH) i += 1;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
      depth += 1;
      if (depth > deepest) deepest = depth;
    } else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) {
      depth -= 1;
    }
  }
  return deepest;
}

/** Throws JSON_TOO_DEEP when `raw` nests deeper than MAX_JSON_DEPTH. */
export function assertJsonDepth(raw: Buffer): void {
  const depth = jsonDepth(raw);
  if (depth > MAX_JSON_DEPTH) {
    throw new CodedError(
      'JSON_TOO_DEEP',
      `request body nests ${depth} levels deep, at most ${MAX_JSON_DEPTH} allowed`,
      { depth, maxDepth: MAX_JSON_DEPTH },
    );
  }
}
