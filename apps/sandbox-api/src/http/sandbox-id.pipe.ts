import { Injectable, PipeTransform } from '@nestjs/common';
import { validationError } from '@app/domain';

const ID_OR_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

/** Path ids are sandbox ids or names; anything else is a client mistake named as such. */
@Injectable()
export class SandboxIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!ID_OR_NAME.test(value)) {
      throw validationError('id', 'must be a sandbox id or name');
    }
    return value;
  }
}
