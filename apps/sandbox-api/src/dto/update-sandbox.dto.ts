import { ApiProperty } from '@nestjs/swagger';
import { IsBoolean } from 'class-validator';

/** What PATCH may change on a sandbox today: its protection. */
export class UpdateSandboxDto {
  @ApiProperty({ description: 'Exempt from auto-delete and force-delete while true' })
  @IsBoolean()
  protected!: boolean;
}
