import { ValidationError, ValidationPipe } from '@nestjs/common';
import { CodedError } from '@app/domain';

/**
 * Strict input validation: unknown fields are rejected, types are not coerced for JSON bodies, and
 * the error names every offending field (`details.fields`) with its problems.
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: (errors: ValidationError[]) => {
      const fields = flatten(errors);
      const message = Object.entries(fields)
        .map(([field, problems]) => `${field}: ${problems.join(', ')}`)
        .join('; ');
      return new CodedError('VALIDATION_FAILED', message || 'invalid request', { fields });
    },
  });
}

function flatten(errors: ValidationError[], prefix = ''): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const error of errors) {
    const path = prefix ? `${prefix}.${error.property}` : error.property;
    if (error.constraints) {
      out[path] = Object.entries(error.constraints).map(([rule, text]) =>
        rule === 'whitelistValidation' ? `${path} is not a known field` : text,
      );
    }
    Object.assign(out, flatten(error.children ?? [], path));
  }
  return out;
}
