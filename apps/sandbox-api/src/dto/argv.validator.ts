import { ValidationArguments, ValidationOptions, registerDecorator } from 'class-validator';

export interface ArgvRules {
  /**
   * Another field of the same body that, when given, supplies the program instead (a create's
   * `entrypoint` runs `command` as its arguments), so this argv may then start with "".
   */
  programFrom?: string;
}

/**
 * An argv: an array of strings whose first one, the program, is not empty (Docker answers an
 * empty program with an opaque start failure), and none holding NUL (which ends a C string, so
 * the process would see another argument than the one asked for). Length limits stay with the
 * usual ArrayMinSize/ArrayMaxSize decorators.
 */
export function IsArgv(rules: ArgvRules = {}, options?: ValidationOptions) {
  return (target: object, propertyName: string): void => {
    registerDecorator({
      name: 'isArgv',
      target: target.constructor,
      propertyName,
      options,
      validator: {
        validate: (value: unknown, args) => problemOf(value, rules, args) === null,
        defaultMessage: (args) => `${args?.property} ${problemOf(args?.value, rules, args)}`,
      },
    });
  };
}

function problemOf(
  value: unknown,
  rules: ArgvRules,
  args: ValidationArguments | undefined,
): string | null {
  if (!Array.isArray(value) || value.some((part) => typeof part !== 'string')) {
    return 'must be an array of strings';
  }
  const argv = value as string[];
  const index = argv.findIndex((part) => part.includes('\0'));
  if (index >= 0) return `[${index}] must not contain NUL (\\u0000)`;
  const programGiven =
    rules.programFrom !== undefined &&
    (args?.object as Record<string, unknown> | undefined)?.[rules.programFrom] !== undefined;
  if (!programGiven && argv.length > 0 && argv[0].trim() === '') {
    return '[0], the program, must not be empty';
  }
  return null;
}
