import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
} from 'class-validator';
import { SANDBOX_EVENT_TYPES, SandboxEventType } from '@app/domain';

/** An event id: a decimal integer that a JS number holds exactly. */
export const EVENT_CURSOR = /^(0|[1-9]\d{0,14})$/;
export const MAX_EVENT_PAGE = 500;

/** `type=a,b` or `type=a&type=b`: one list either way. */
const toTypes = ({ value }: { value: unknown }): unknown => {
  if (value === undefined) return undefined;
  const parts = (Array.isArray(value) ? value : [value]).flatMap((part: unknown) =>
    typeof part === 'string' ? part.split(',') : [part],
  );
  return parts.filter((part) => part !== '');
};

const toInt = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;

export class ListEventsQuery {
  @ApiPropertyOptional({
    description: 'Only events after this id (the last id of the previous page, or of the stream)',
    example: '42',
  })
  @IsOptional()
  @IsString()
  @Matches(EVENT_CURSOR, { message: 'after must be an event id (a non-negative integer)' })
  after?: string;

  @ApiPropertyOptional({
    enum: SANDBOX_EVENT_TYPES,
    isArray: true,
    description: 'Only these types: comma-separated or repeated',
  })
  @IsOptional()
  @Transform(toTypes)
  @ArrayMaxSize(SANDBOX_EVENT_TYPES.length * 2)
  @IsIn(SANDBOX_EVENT_TYPES, {
    each: true,
    message: `type must be one of ${SANDBOX_EVENT_TYPES.join(', ')}`,
  })
  type?: SandboxEventType[];

  @ApiPropertyOptional({ description: "Only this sandbox's events (its id)" })
  @IsOptional()
  @IsString()
  @Matches(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/, { message: 'sandbox must be a sandbox id' })
  sandbox?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_EVENT_PAGE, default: 100 })
  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: 'limit must be an integer' })
  @Min(1)
  @Max(MAX_EVENT_PAGE)
  limit?: number;
}
