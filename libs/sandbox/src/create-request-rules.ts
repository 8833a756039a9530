import { COLUMN_LIMITS } from '@app/meta-store';
import { formatMemorySize, parseMemorySize } from './memory-size';
import { SANDBOX_ID_PATTERN } from './sandbox-id';

/**
 * What a create request must look like, whichever front door it comes through (/v1's DTO,
 * ROCK's start body, E2B's create): one definition, so the doors cannot drift apart.
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

/** The rules of a map of strings (env, labels). */
export interface StringMapRules {
  maxEntries: number;
  keyPattern: RegExp;
  keyDescription: string;
  maxValueLength: number;
  /** Key prefixes reserved for the service itself. */
  reservedPrefix?: string;
  /**
   * Refuse control characters (U+0000-U+001F, U+007F) in values: labels, whose values must be
   * writable in one `label=k=v` query parameter to be filtered on.
   */
  noControlCharacters?: boolean;
}

/** A sandbox's env, and a command's (/v1's exec, E2B's processes). */
export const ENV_RULES: StringMapRules = {
  maxEntries: 256,
  keyPattern: /^[A-Za-z_][A-Za-z0-9_]{0,255}$/,
  keyDescription: 'a valid environment variable name',
  maxValueLength: 32768,
};

/**
 * A sandbox's labels. Every label a create accepts can be filtered on with one `label=k=v` (no
 * "=" in keys, no control characters or NUL in values) and is stored whole (the store's own
 * column limit).
 */
export const LABEL_RULES: StringMapRules = {
  maxEntries: 64,
  keyPattern: /^[A-Za-z0-9][A-Za-z0-9_./-]{0,127}$/,
  keyDescription: 'a label key (letters, digits, _ . / -; at most 128)',
  maxValueLength: COLUMN_LIMITS.labelValue,
  reservedPrefix: 'io.sandboxd.',
  noControlCharacters: true,
};

/**
 * The node labels a create may ask for (`placement.nodeLabels`, CLUSTER=swarm): Swarm node label
 * keys (letters, digits, _ . -) and short values, each of which the chosen node must carry.
 */
export const NODE_LABEL_RULES: StringMapRules = {
  maxEntries: 16,
  keyPattern: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/,
  keyDescription: 'a node label key (letters, digits, _ . -; at most 128)',
  maxValueLength: 256,
  noControlCharacters: true,
};

/** A surrogate without its pair is not Unicode: stored as U+FFFD, it never matches again. */
const LONE_SURROGATE = /[\ud800-\udfff]/u;

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/**
 * What is wrong with a map of strings under `rules`, naming the first offending key so a client
 * can fix it without guessing; null when nothing is.
 */
export function stringMapProblem(value: unknown, rules: StringMapRules): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return 'must be an object of string values';
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > rules.maxEntries) return `must have at most ${rules.maxEntries} entries`;
  for (const [key, v] of entries) {
    if (!rules.keyPattern.test(key)) return `key "${key}" is not ${rules.keyDescription}`;
    if (rules.reservedPrefix && key.startsWith(rules.reservedPrefix)) {
      return `key "${key}" uses the reserved prefix ${rules.reservedPrefix}`;
    }
    if (typeof v !== 'string') return `value of "${key}" must be a string`;
    if (v.length > rules.maxValueLength) {
      return `value of "${key}" must be at most ${rules.maxValueLength} characters`;
    }
    // NUL ends a C string: Docker, the kernel and PostgreSQL's text all refuse or cut it.
    if (v.includes('\0')) return `value of "${key}" must not contain NUL (\\u0000)`;
    if (LONE_SURROGATE.test(v)) return `value of "${key}" must be well-formed Unicode`;
    if (rules.noControlCharacters && hasControlCharacter(v)) {
      return `value of "${key}" must not contain control characters`;
    }
  }
  return null;
}
