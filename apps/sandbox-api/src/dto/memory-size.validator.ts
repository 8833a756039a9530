import { ValidationOptions, registerDecorator } from 'class-validator';
import { formatMemorySize, parseMemorySize } from '@app/sandbox';

/** Docker refuses memory limits below 6 MiB; say so at the edge rather than as a runtime error. */
export const MIN_MEMORY_BYTES = 6 * 1024 * 1024;

export function IsMemorySize(options?: ValidationOptions) {
  return (target: object, propertyName: string): void => {
    registerDecorator({
      name: 'isMemorySize',
      target: target.constructor,
      propertyName,
      options,
      validator: {
        validate: (value: unknown) => {
          // The parser forgives surrounding blanks (config files have them); a request must not.
          const exact = typeof value === 'string' && value === value.trim();
          const bytes = exact ? parseMemorySize(value) : null;
          return bytes !== null && bytes >= MIN_MEMORY_BYTES;
        },
        defaultMessage: (args) =>
          `${args?.property} must be a size such as 512m or 2g, at least ${formatMemorySize(MIN_MEMORY_BYTES)}`,
      },
    });
  };
}
