import { ValidateBy } from 'class-validator';

/** Docker-style sizes: 512m, 2g, 1.5GiB, or bytes. */
export const SIZE = /^\d+(\.\d+)?\s*[bkmgt]?(i?b)?$/i;

/** Trims and turns an empty string into "unset", so `FOO=` in a shell means the default. */
export const emptyToUndefined = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

const PREFIX = /^Invalid environment: /;

/**
 * The value must be one `parse` accepts; its error (without the "Invalid environment: " prefix
 * the parser adds for its other callers) is the message. The slice parses it again to use it.
 */
export function ParsedBy(parse: (text: string) => unknown): PropertyDecorator {
  const problemOf = (value: unknown): string | null => {
    if (typeof value !== 'string') return null;
    try {
      parse(value);
      return null;
    } catch (error) {
      return (error instanceof Error ? error.message : String(error)).replace(PREFIX, '');
    }
  };
  return ValidateBy({
    name: 'parsedBy',
    validator: {
      validate: (value: unknown) => problemOf(value) === null,
      defaultMessage: (args) => problemOf(args?.value) ?? `${args?.property} is invalid`,
    },
  });
}
