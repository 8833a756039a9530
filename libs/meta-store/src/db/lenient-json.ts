import type { ValueTransformer } from 'typeorm';

/**
 * TypeORM's `simple-json` for the JSON blob columns, except that a stored text which is not JSON
 * hydrates as that text instead of throwing a SyntaxError out of the query: the read schemas
 * (stored-sandbox-schema.ts, and the sandbox library's snapshot schema) then reject it as that one
 * sandbox's RECORD_CORRUPT, and a scan that loaded it with other rows skips it. Stored as `text`
 * on both drivers, exactly what `simple-json` maps to, so the schema does not change.
 */
export const lenientJson: ValueTransformer = {
  to: (value: unknown) => (value === undefined || value === null ? value : JSON.stringify(value)),
  from: (raw: unknown): unknown => {
    if (typeof raw !== 'string') return raw;
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      return raw;
    }
  },
};
