import { ValidationOptions, registerDecorator } from 'class-validator';
import { isRequestedSize, requestedSizeProblem } from '@app/sandbox';

export function IsMemorySize(options?: ValidationOptions) {
  return (target: object, propertyName: string): void => {
    registerDecorator({
      name: 'isMemorySize',
      target: target.constructor,
      propertyName,
      options,
      validator: {
        validate: (value: unknown) => isRequestedSize(value),
        defaultMessage: (args) => requestedSizeProblem(args?.property ?? 'size'),
      },
    });
  };
}
