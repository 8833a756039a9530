import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  Min,
  ValidationArguments,
  ValidationOptions,
  registerDecorator,
} from 'class-validator';
import { ENV_RULES } from '@app/sandbox';
import { IsStringMap } from './string-map.validator';

/** Most arguments an exec's argv may have. */
export const MAX_ARGV_ENTRIES = 4096;
/**
 * Longest single argument in bytes: the kernel refuses a longer one (MAX_ARG_STRLEN, 32 pages of
 * 4 KiB including the terminating NUL) with E2BIG, which would only surface later as a 422.
 */
export const MAX_ARG_BYTES = 131_071;

export const OUTPUT_ENCODINGS = ['utf8', 'base64'] as const;
export type OutputEncoding = (typeof OUTPUT_ENCODINGS)[number];

/** What is wrong with a command, naming the limit it breaks; null when it is fine. */
export function commandProblem(value: unknown): string | null {
  if (typeof value === 'string') {
    if (value.trim().length === 0) return 'command must not be empty or blank';
    return argumentProblem(value, 'command');
  }
  if (!Array.isArray(value) || value.length === 0) {
    return 'command must be a non-empty array of strings (argv) or a non-empty string (run by sh -c)';
  }
  if (value.length > MAX_ARGV_ENTRIES) {
    return `command has ${value.length} arguments; at most ${MAX_ARGV_ENTRIES} are allowed`;
  }
  for (const [index, arg] of value.entries()) {
    if (typeof arg !== 'string') return `command[${index}] must be a string`;
    const problem = argumentProblem(arg, `command[${index}]`);
    if (problem !== null) return problem;
  }
  if ((value[0] as string).length === 0) return 'command[0] (the program to run) must not be empty';
  return null;
}

function argumentProblem(arg: string, name: string): string | null {
  if (arg.includes('\0')) return `${name} must not contain NUL bytes`;
  const bytes = Buffer.byteLength(arg);
  if (bytes > MAX_ARG_BYTES) {
    return `${name} is ${bytes} bytes; one argument may have at most ${MAX_ARG_BYTES} (the kernel's MAX_ARG_STRLEN)`;
  }
  return null;
}

/** argv (non-empty array of strings) or one string for `sh -c`, within the kernel's limits. */
function IsCommand(options?: ValidationOptions) {
  return (target: object, propertyName: string): void => {
    registerDecorator({
      name: 'isCommand',
      target: target.constructor,
      propertyName,
      options,
      validator: {
        validate: (value: unknown) => commandProblem(value) === null,
        defaultMessage: (args?: ValidationArguments) =>
          commandProblem(args?.value) ?? 'command is not valid',
      },
    });
  };
}

export class ExecDto {
  @ApiProperty({
    oneOf: [{ type: 'array', items: { type: 'string' } }, { type: 'string' }],
    example: ['sh', '-c', 'echo hi; echo oops >&2; exit 3'],
    description: `argv (at most ${MAX_ARGV_ENTRIES} arguments of at most ${MAX_ARG_BYTES} bytes each, the first not empty), or a string run by \`sh -c\``,
  })
  @IsCommand()
  command!: string[] | string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { MODE: 'test' },
  })
  @IsOptional()
  @IsStringMap(ENV_RULES)
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

  @ApiPropertyOptional({
    enum: OUTPUT_ENCODINGS,
    description:
      'How stdout and stderr are given (default `utf8`), in the answer and in each streamed event: `utf8` text ' +
      '(bytes that are not UTF-8 become U+FFFD) or `base64` of the exact bytes (each streamed ' +
      'event is its own base64 string)',
  })
  @IsOptional()
  @IsIn(OUTPUT_ENCODINGS, { message: 'outputEncoding must be utf8 or base64' })
  outputEncoding?: OutputEncoding;
}

export class ExecResultView {
  @ApiProperty({ type: Number, nullable: true }) exitCode!: number | null;
  @ApiProperty({ description: 'In `outputEncoding`' }) stdout!: string;
  @ApiProperty({ description: 'In `outputEncoding`' }) stderr!: string;
  @ApiProperty({ enum: OUTPUT_ENCODINGS }) outputEncoding!: OutputEncoding;
  @ApiProperty() timedOut!: boolean;
  @ApiProperty({ description: 'An output stream hit EXEC_OUTPUT_LIMIT' }) truncated!: boolean;
  @ApiProperty() durationMs!: number;
}
