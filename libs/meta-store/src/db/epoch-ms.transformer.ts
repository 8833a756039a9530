import { bigintNumberTransformer } from './bigint-number.transformer';

/** bigint epoch-millisecond columns as numbers: epoch ms stay far below 2^53, so a number is exact. */
export const epochMsTransformer = bigintNumberTransformer;
