import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { SANDBOX_EVENT_TYPES, type SandboxEventType } from '@app/extension-api';
import { MAX_URL_LENGTH } from './webhook-url';

export const MAX_DESCRIPTION_LENGTH = 256;

export class CreateWebhookDto {
  /** Where deliveries are POSTed: http or https. */
  @IsString()
  @MaxLength(MAX_URL_LENGTH)
  url!: string;

  /** The event types to receive; absent: all of them. */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(SANDBOX_EVENT_TYPES.length)
  @ArrayUnique()
  @IsIn(SANDBOX_EVENT_TYPES, {
    each: true,
    message: `each event must be one of ${SANDBOX_EVENT_TYPES.join(', ')}`,
  })
  events?: SandboxEventType[];

  @IsOptional()
  @IsString()
  @MaxLength(MAX_DESCRIPTION_LENGTH)
  description?: string;
}

export class DeliveriesQuery {
  @IsOptional()
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? Number(value) : value))
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;
}
