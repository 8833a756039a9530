import { ApiProperty } from '@nestjs/swagger';
import { IsBoolean } from 'class-validator';

/** What PATCH may change on a sandbox today: its protection (no delete of any kind while set). */
export class UpdateSandboxDto {
  @ApiProperty({ description: 'While true, every delete (plain, forced, auto-delete) is refused' })
  @IsBoolean()
  protected!: boolean;
}
