import { ValidationOptions, registerDecorator } from 'class-validator';

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
 * A JSON object whose keys follow a pattern and whose values are all strings (env, labels). The
 * message names the first offending key so a client can fix it without guessing.
 */
export function IsStringMap(rules: StringMapRules, options?: ValidationOptions) {
  return (target: object, propertyName: string): void => {
    registerDecorator({
      name: 'isStringMap',
      target: target.constructor,
      propertyName,
      options,
      validator: {
        validate: (value: unknown) => problemOf(value, rules) === null,
        defaultMessage: (args) => `${args?.property}: ${problemOf(args?.value, rules)}`,
      },
    });
  };
}

function problemOf(value: unknown, rules: StringMapRules): string | null {
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
