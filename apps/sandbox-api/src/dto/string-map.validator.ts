import { ValidationOptions, registerDecorator } from 'class-validator';

export interface StringMapRules {
  maxEntries: number;
  keyPattern: RegExp;
  keyDescription: string;
  maxValueLength: number;
  /** Key prefixes reserved for the service itself. */
  reservedPrefix?: string;
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
  }
  return null;
}
