import { Injectable, PipeTransform } from '@nestjs/common';
import { tenantNameOf } from '@app/domain';

/** A path's tenant name; anything else is VALIDATION_FAILED naming `tenant`. */
@Injectable()
export class TenantNamePipe implements PipeTransform<string, string> {
  transform(value: string): string {
    return tenantNameOf(value);
  }
}
