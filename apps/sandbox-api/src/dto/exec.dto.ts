import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsInt,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  Min,
  ValidationOptions,
  registerDecorator,
} from 'class-validator';
import { IsStringMap } from './string-map.validator';

/** argv (non-empty array of strings) or one string for `sh -c`. */
function IsCommand(options?: ValidationOptions) {
  return (target: object, propertyName: string): void => {
    registerDecorator({
      name: 'isCommand',
      target: target.constructor,
      propertyName,
      options,
      validator: {
        validate: (value: unknown) =>
          (typeof value === 'string' && value.trim().length > 0) ||
          (Array.isArray(value) &&
            value.length > 0 &&
            value.length <= 4096 &&
            value.every((a) => typeof a === 'string') &&
            value[0].length > 0),
        defaultMessage: () =>
          'command must be a non-empty array of strings (argv) or a non-empty string (run by sh -c)',
      },
    });
  };
}

export class ExecDto {
  @ApiProperty({
    oneOf: [{ type: 'array', items: { type: 'string' } }, { type: 'string' }],
    example: ['sh', '-c', 'echo hi; echo oops >&2; exit 3'],
    description: 'argv, or a string run by `sh -c`',
  })
  @IsCommand()
  command!: string[] | string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { MODE: 'test' },
  })
  @IsOptional()
  @IsStringMap({
    maxEntries: 256,
    keyPattern: /^[A-Za-z_][A-Za-z0-9_]{0,255}$/,
    keyDescription: 'a valid environment variable name',
    maxValueLength: 32768,
  })
  env?: Record<string, string>;

  @ApiPropertyOptional({ example: '/tmp', description: 'Absolute working directory' })
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  @Matches(/^\//, { message: 'cwd must be an absolute path' })
  cwd?: string;

  @ApiPropertyOptional({ example: '65534', description: 'user, uid, user:group or uid:gid' })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_.-]{1,64}(:[A-Za-z0-9_.-]{1,64})?$/, {
    message: 'user must be a name or uid, optionally with :group',
  })
  user?: string;

  @ApiPropertyOptional({ description: 'Written to the process standard input, then closed' })
  @IsOptional()
  @IsString()
  stdin?: string;

  @ApiPropertyOptional({ example: 60, description: 'Kill the process tree after this long' })
  @IsOptional()
  @IsInt()
  @Min(1)
  timeoutSeconds?: number;
}

export class ExecResultView {
  @ApiProperty({ type: Number, nullable: true }) exitCode!: number | null;
  @ApiProperty() stdout!: string;
  @ApiProperty() stderr!: string;
  @ApiProperty() timedOut!: boolean;
  @ApiProperty({ description: 'An output stream hit EXEC_OUTPUT_LIMIT' }) truncated!: boolean;
  @ApiProperty() durationMs!: number;
}
