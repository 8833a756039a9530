import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';

export class FilePathQuery {
  @ApiProperty({ example: '/tmp/data.bin', description: 'Absolute path inside the sandbox' })
  @IsString()
  @MaxLength(4096)
  @Matches(/^\/[^\0]*$/, { message: 'path must be an absolute path inside the sandbox' })
  path!: string;
}

export class WriteFileQuery extends FilePathQuery {
  @ApiPropertyOptional({ example: '0644', description: 'Octal file mode' })
  @IsOptional()
  @Matches(/^0?[0-7]{3,4}$/, { message: 'mode must be an octal mode such as 0644' })
  mode?: string;
}

export class DirectoryEntryView {
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ['file', 'directory', 'symlink', 'other'] }) type!: string;
  @ApiProperty() size!: number;
  @ApiProperty({ example: '0644' }) mode!: string;
  @ApiProperty() mtime!: string;
}

export class DirectoryListingView {
  @ApiProperty() path!: string;
  @ApiProperty({ description: 'The listing stopped at a limit before the end' })
  truncated!: boolean;
  @ApiProperty({ type: [DirectoryEntryView] }) entries!: DirectoryEntryView[];
}

export class WrittenFileView {
  @ApiProperty() path!: string;
  @ApiProperty() size!: number;
  @ApiProperty({ example: '0644' }) mode!: string;
}

export class PortView {
  @ApiProperty({ example: 8080 }) containerPort!: number;
  @ApiProperty({ example: '127.0.0.1' }) hostAddress!: string;
  @ApiProperty({ example: 30001 }) hostPort!: number;
}

export class PortsView {
  @ApiProperty({ type: [PortView] }) ports!: PortView[];
}
