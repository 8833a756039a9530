import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsInt,
  IsNumber,
  IsOptional,
  Max,
  Min,
  ValidationOptions,
  registerDecorator,
} from 'class-validator';
import { formatMemorySize, parseMemorySize } from '@app/sandbox';
import type { TenantReport } from '@app/sandbox';

/** The largest limits accepted: far above any host, small enough to be exact everywhere. */
const MAX_SANDBOXES_LIMIT = 1_000_000;
const MAX_CPUS_LIMIT = 1_000_000;

/** A size as the API writes them ("8g", "512m"; 0 allowed: no memory at all), exactly as sent. */
function IsLimitSize(options?: ValidationOptions) {
  return (target: object, propertyName: string): void => {
    registerDecorator({
      name: 'isLimitSize',
      target: target.constructor,
      propertyName,
      options,
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' && value === value.trim() && parseMemorySize(value) !== null,
        defaultMessage: (args) =>
          `${args?.property ?? 'size'} must be a size such as 8g or 512m, or null for no limit`,
      },
    });
  };
}

/**
 * PUT /v1/admin/tenants/:tenant/limits. Each limit is optional: absent keeps it as it is, null
 * clears it (no limit), a value sets it.
 */
export class TenantLimitsDto {
  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    minimum: 0,
    maximum: MAX_SANDBOXES_LIMIT,
    example: 10,
    description: 'Most sandboxes the tenant holds at once (not deleted: stopped ones count)',
  })
  @IsOptional()
  @IsInt({ message: 'maxSandboxes must be a whole number, or null for no limit' })
  @Min(0)
  @Max(MAX_SANDBOXES_LIMIT)
  maxSandboxes?: number | null;

  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    minimum: 0,
    maximum: MAX_CPUS_LIMIT,
    example: 8,
    description: "Most CPUs of the tenant's sandboxes together (their cpus limits)",
  })
  @IsOptional()
  @IsNumber(
    { allowNaN: false, allowInfinity: false },
    { message: 'maxCpus must be a number, or null for no limit' },
  )
  @Min(0)
  @Max(MAX_CPUS_LIMIT)
  maxCpus?: number | null;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    example: '16g',
    description: "Most memory of the tenant's sandboxes together, as a size (8g, 512m)",
  })
  @IsOptional()
  @IsLimitSize()
  maxMemory?: string | null;
}

export class TenantLimitsView {
  @ApiProperty({ type: Number, nullable: true }) maxSandboxes!: number | null;
  @ApiProperty({ type: Number, nullable: true }) maxCpus!: number | null;
  @ApiProperty({ type: String, nullable: true, example: '16g' }) maxMemory!: string | null;
  @ApiProperty({ type: Number, nullable: true }) maxMemoryBytes!: number | null;
}

export class TenantUsageView {
  @ApiProperty({ description: 'Sandboxes that are not deleted (what maxSandboxes counts)' })
  sandboxes!: number;
  @ApiProperty({ description: 'Of those, the pending and running ones' })
  liveSandboxes!: number;
  @ApiProperty({ description: 'Sum of their CPU limits' }) cpus!: number;
  @ApiProperty({ example: '2g', description: 'Sum of their memory limits' }) memory!: string;
  @ApiProperty() memoryBytes!: number;
}

export class TenantView {
  @ApiProperty({ example: 'team-a' }) tenant!: string;
  @ApiProperty({ type: TenantLimitsView }) limits!: TenantLimitsView;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'When the limits were last set; null if never',
  })
  limitsUpdatedAt!: string | null;
  @ApiProperty({ type: TenantUsageView }) usage!: TenantUsageView;

  static of(report: TenantReport): TenantView {
    const { limits, usage } = report;
    return {
      tenant: report.tenant,
      limits: {
        maxSandboxes: limits.maxSandboxes,
        maxCpus: limits.maxCpus,
        maxMemory: limits.maxMemoryBytes === null ? null : formatMemorySize(limits.maxMemoryBytes),
        maxMemoryBytes: limits.maxMemoryBytes,
      },
      limitsUpdatedAt: report.limitsUpdatedAt,
      usage: {
        sandboxes: usage.sandboxes,
        liveSandboxes: usage.liveSandboxes,
        cpus: usage.cpus,
        memory: formatMemorySize(usage.memoryBytes),
        memoryBytes: usage.memoryBytes,
      },
    };
  }
}
