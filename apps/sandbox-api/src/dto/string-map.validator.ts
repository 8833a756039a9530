import { ValidationOptions, registerDecorator } from 'class-validator';
import { StringMapRules, stringMapProblem } from '@app/sandbox';

/**
 * A JSON object whose keys follow a pattern and whose values are all strings (env, labels), by
 * the rules every front door shares (@app/sandbox's ENV_RULES, LABEL_RULES).
 */
export function IsStringMap(rules: StringMapRules, options?: ValidationOptions) {
  return (target: object, propertyName: string): void => {
    registerDecorator({
      name: 'isStringMap',
      target: target.constructor,
      propertyName,
      options,
      validator: {
        validate: (value: unknown) => stringMapProblem(value, rules) === null,
        defaultMessage: (args) => `${args?.property}: ${stringMapProblem(args?.value, rules)}`,
      },
    });
  };
}
