import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  NotEquals,
  ValidateNested,
} from 'class-validator';
import { Type } from 'class-transformer';
import { SANDBOX_NETWORKS, type SandboxNetwork } from '@app/domain';
import {
  COLUMN_LIMITS,
  ENV_RULES,
  IMAGE_REFERENCE_PATTERN,
  LABEL_RULES,
  NODE_LABEL_RULES,
  SANDBOX_NAME_PATTERN,
} from '@app/sandbox';
import { IsArgv } from './argv.validator';
import { IsMemorySize } from './memory-size.validator';
import { IsStringMap } from './string-map.validator';

/** Where a sandbox may run, with CLUSTER=swarm. */
export class PlacementDto {
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { gpu: 'true' },
    description:
      'Swarm node labels (docker node update --label-add) the chosen node must carry, each with this value',
  })
  @IsOptional()
  @IsStringMap(NODE_LABEL_RULES)
  nodeLabels?: Record<string, string>;
}

export class CreateSandboxDto {
  @ApiProperty({ example: 'sandboxd/demo:latest', description: 'Image reference' })
  @IsString()
  @MinLength(1)
  @MaxLength(512)
  @Matches(IMAGE_REFERENCE_PATTERN, {
    message: 'image must be a valid image reference (name[:tag][@digest])',
  })
  image!: string;

  @ApiPropertyOptional({
    example: 'agent-42',
    description: 'Unique among non-deleted sandboxes; 1-63 of letters, digits, _ . -',
  })
  @IsOptional()
  @IsString()
  @Matches(SANDBOX_NAME_PATTERN, {
    message: 'name must be 1-63 letters, digits, _ . - (starting with a letter or digit)',
  })
  name?: string;

  @ApiPropertyOptional({ example: 1, minimum: 0.1, maximum: 64 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0.1)
  @Max(64)
  cpus?: number;

  @ApiPropertyOptional({ example: '512m', description: 'Memory limit, e.g. 512m or 2g (min 6m)' })
  @IsOptional()
  @IsMemorySize()
  memory?: string;

  @ApiPropertyOptional({
    example: 1024,
    description: 'Most processes/threads, at least 1 (-1: no limit; 0 is refused)',
  })
  @IsOptional()
  @IsInt()
  @Min(-1)
  // Docker reads 0 as "no limit": accepting it would show a limit that is not in force.
  @NotEquals(0, {
    message: 'pidsLimit must be at least 1, or -1 for no limit (0 is no limit to Docker)',
  })
  @Max(4_194_304)
  pidsLimit?: number;

  @ApiPropertyOptional({
    example: '10g',
    description: 'One disk budget for the writable layer and the log directory',
  })
  @IsOptional()
  @IsMemorySize({ message: 'disk must be a size such as 10g, at least 6m' })
  disk?: string;

  @ApiPropertyOptional({ example: 'runc', description: 'OCI runtime, from ALLOWED_RUNTIMES' })
  @IsOptional()
  @IsString()
  @Matches(/^[a-zA-Z0-9_.-]{1,64}$/, { message: 'runtime must be a runtime name such as runc' })
  runtime?: string;

  @ApiPropertyOptional({
    enum: SANDBOX_NETWORKS,
    example: 'bridge',
    description:
      "bridge (default): sandboxd's own network, reaching the outside world but not other sandboxes; none: no network at all, only lo (no ports)",
  })
  @IsOptional()
  @IsIn(SANDBOX_NETWORKS, { message: `network must be one of: ${SANDBOX_NETWORKS.join(', ')}` })
  network?: SandboxNetwork;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { MODE: 'test' },
    description: 'Values are never echoed back',
  })
  @IsOptional()
  @IsStringMap(ENV_RULES)
  env?: Record<string, string>;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { team: 'rl' },
    description: `At most 64 entries; values of at most ${COLUMN_LIMITS.labelValue} characters, no control characters`,
  })
  @IsOptional()
  @IsStringMap(LABEL_RULES)
  labels?: Record<string, string>;

  @ApiPropertyOptional({
    type: [Number],
    example: [8080],
    description: 'Container TCP ports to publish',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(32)
  @IsInt({ each: true })
  @Min(1, { each: true })
  @Max(65535, { each: true })
  ports?: number[];

  @ApiPropertyOptional({
    example: 1800,
    description: 'Seconds without activity before stop; 0 = never',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(31_536_000)
  idleTimeoutSeconds?: number;

  @ApiPropertyOptional({
    example: 7200,
    description: 'Hard deadline from start, whatever the activity; 0 or absent = none',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(31_536_000)
  maxLifetimeSeconds?: number;

  @ApiPropertyOptional({
    example: false,
    description: 'Refuse every delete (plain, forced, auto-delete) until unset (PATCH)',
  })
  @IsOptional()
  @IsBoolean()
  protected?: boolean;

  @ApiPropertyOptional({
    example: 86400,
    description: 'Seconds after stop before deletion; -1 = never, 0 = at once',
  })
  @IsOptional()
  @IsInt()
  @Min(-1)
  @Max(31_536_000)
  autoDeleteSeconds?: number;

  @ApiPropertyOptional({
    example: ['sleep', 'infinity'],
    description: 'argv replacing the image CMD',
  })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(256)
  @IsString({ each: true })
  @IsArgv({ programFrom: 'entrypoint' })
  command?: string[];

  @ApiPropertyOptional({ example: ['/bin/sh', '-c'], description: 'argv replacing the ENTRYPOINT' })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(256)
  @IsString({ each: true })
  @IsArgv()
  entrypoint?: string[];

  @ApiPropertyOptional({
    type: PlacementDto,
    description:
      'CLUSTER=swarm: constraints on the node it is placed on (422 NO_MATCHING_NODE otherwise)',
  })
  @IsOptional()
  @ValidateNested()
  @Type(() => PlacementDto)
  placement?: PlacementDto;
}
