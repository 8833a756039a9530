import { ValueTransformer } from 'typeorm';

/**
 * bigint epoch-millisecond columns: PostgreSQL's driver returns int8 as a string (it may exceed
 * 2^53), SQLite returns a number. Epoch ms stay far below 2^53, so a number is exact.
 */
export const epochMsTransformer: ValueTransformer = {
  to: (value: number | null | undefined): number | null | undefined => value,
  from: (value: string | number | null): number | null => (value === null ? null : Number(value)),
};
