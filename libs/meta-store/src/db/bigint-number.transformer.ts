import { ValueTransformer } from 'typeorm';

/**
 * bigint columns read as JS numbers: PostgreSQL's driver returns int8 as a string (it may exceed
 * 2^53), SQLite returns a number. Only for values that stay below 2^53 (epoch ms, byte counts up to
 * 8 PiB), where a number is exact; the store validates that before writing.
 */
export const bigintNumberTransformer: ValueTransformer = {
  to: (value: number | null | undefined): number | null | undefined => value,
  from: (value: string | number | null): number | null => (value === null ? null : Number(value)),
};
