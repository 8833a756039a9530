import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { COLUMN_LIMITS } from '@app/sandbox';
import { SANDBOX_STATES, SandboxState, TENANT_NAME_PATTERN, TENANT_NAME_RULE } from '@app/domain';

/** Repeatable query parameters arrive as a string or an array of strings. */
const toArray = ({ value }: { value: unknown }): unknown =>
  value === undefined ? undefined : Array.isArray(value) ? value : [value];

/** Only the words true and false are booleans; anything else stays invalid for the validator. */
export const toBoolean = ({ value }: { value: unknown }): unknown =>
  value === 'true' ? true : value === 'false' ? false : value;

const toInt = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;

export class ListSandboxesQuery {
  @ApiPropertyOptional({
    example: 'team-a',
    description:
      "Only this tenant's sandboxes. A tenant key lists its own tenant's only: naming another lists none",
  })
  @IsOptional()
  @IsString()
  @Matches(TENANT_NAME_PATTERN, { message: `tenant ${TENANT_NAME_RULE}` })
  tenant?: string;

  @ApiPropertyOptional({ enum: SANDBOX_STATES, isArray: true, description: 'Repeatable' })
  @IsOptional()
  @Transform(toArray)
  @ArrayMaxSize(4)
  @IsIn(SANDBOX_STATES, {
    each: true,
    message: `state must be one of ${SANDBOX_STATES.join(', ')}`,
  })
  state?: SandboxState[];

  @ApiPropertyOptional({
    type: [String],
    example: ['team=rl'],
    description: 'k=v; repeatable, all must match',
  })
  @IsOptional()
  @Transform(toArray)
  @ArrayMaxSize(64)
  @Matches(/^[^=]+=.*$/, { each: true, message: 'label must look like key=value' })
  @MaxLength(COLUMN_LIMITS.labelKey + 1 + COLUMN_LIMITS.labelValue, { each: true })
  label?: string[];

  @ApiPropertyOptional({ example: 'sandboxd/demo:latest' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  image?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 100 })
  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: 'limit must be an integer from 1 to 500' })
  @Min(1)
  @Max(500)
  limit?: number;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;

  @ApiPropertyOptional({ description: 'Include deleted sandboxes', default: false })
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean({ message: 'includeDeleted must be true or false' })
  includeDeleted?: boolean;
}
