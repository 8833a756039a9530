import { formatMemorySize, parseMemorySize } from './memory-size';
import { SANDBOX_ID_PATTERN } from './sandbox-id';

/**
 * What a create request must look like, whichever front door it comes through (/v1's DTO,
 * ROCK's start body): one definition, so the doors cannot drift apart.
 */

/** Docker image references: [registry[:port]/]path[:tag][@digest], lower-case path components. */
export const IMAGE_REFERENCE_PATTERN =
  /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

/**
 * 1-63 letters, digits, _ . -, starting with a letter or digit, and never shaped like a sandbox
 * id: so a string of that shape is always an id (SandboxService resolves it without a lookup).
 */
export const SANDBOX_NAME_PATTERN = new RegExp(
  `^(?!${SANDBOX_ID_PATTERN.source.slice(1, -1)}$)[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$`,
);

/** Docker refuses memory limits below 6 MiB; say so at the edge rather than as a runtime error. */
export const MIN_MEMORY_BYTES = 6 * 1024 * 1024;

/**
 * Whether a requested memory or disk size is acceptable: a size as written (the parser forgives
 * surrounding blanks, as config files have them; a request must not), of at least 6 MiB.
 */
export function isRequestedSize(value: unknown): boolean {
  const exact = typeof value === 'string' && value === value.trim();
  const bytes = exact ? parseMemorySize(value) : null;
  return bytes !== null && bytes >= MIN_MEMORY_BYTES;
}

/** The refusal of a size that is not acceptable, naming the field. */
export function requestedSizeProblem(field: string): string {
  return `${field} must be a size such as 512m or 2g, at least ${formatMemorySize(MIN_MEMORY_BYTES)}`;
}
