import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional } from 'class-validator';
import { toBoolean } from './list-sandboxes.query';

export class CreateSandboxQuery {
  @ApiPropertyOptional({ description: 'Answer once the sandbox is running or has failed' })
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean({ message: 'wait must be true or false' })
  wait?: boolean;
}

export class DeleteSandboxQuery {
  @ApiPropertyOptional({ description: 'Stop a pending or running sandbox first, then delete it' })
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean({ message: 'force must be true or false' })
  force?: boolean;
}

/**
 * The body of a command route (stop, restart, keepalive, delete): none, or an empty object. A
 * class without fields, so the strict validation pipe refuses every field as unknown, as it does
 * on every other route, instead of the route silently ignoring what a client thought it asked for.
 */
export class EmptyBody {}
