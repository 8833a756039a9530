import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { API_KEY_NAME_MAX, API_KEY_NAME_PATTERN, ApiKeySummary, CreatedApiKey } from '@app/auth';
import { TENANT_NAME_MAX_LENGTH, TENANT_NAME_PATTERN, TENANT_NAME_RULE } from '@app/domain';

export class CreateApiKeyDto {
  @ApiProperty({
    example: 'team-a',
    pattern: TENANT_NAME_PATTERN.source,
    maxLength: TENANT_NAME_MAX_LENGTH,
  })
  @IsString({ message: 'tenant must be a string' })
  @Matches(TENANT_NAME_PATTERN, { message: `tenant ${TENANT_NAME_RULE}` })
  tenant!: string;

  @ApiProperty({ example: 'ci runner', maxLength: API_KEY_NAME_MAX })
  @IsString({ message: 'name must be a string' })
  @MaxLength(API_KEY_NAME_MAX, { message: `name must be at most ${API_KEY_NAME_MAX} characters` })
  @Matches(API_KEY_NAME_PATTERN, {
    message: 'name must not be blank nor hold control characters',
  })
  name!: string;
}

export class ListApiKeysQuery {
  @ApiPropertyOptional({ example: 'team-a', description: 'Only this tenant’s keys' })
  @IsOptional()
  @IsString({ message: 'tenant must be a string' })
  @Matches(TENANT_NAME_PATTERN, { message: `tenant ${TENANT_NAME_RULE}` })
  tenant?: string;
}

export class ApiKeyView implements ApiKeySummary {
  @ApiProperty({ example: '3f2a9c0d1b4e5f60' }) id!: string;
  @ApiProperty({ example: 'ci runner' }) name!: string;
  @ApiProperty({ example: 'team-a' }) tenant!: string;
  @ApiProperty({
    example: 'sbxd_3f2a9c0d1b4e5f60',
    description: 'How the key starts (its public part); never the secret',
  })
  prefix!: string;
  @ApiProperty({ example: '2026-01-01T00:00:00.000Z' }) createdAt!: string;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Recorded at most once a minute per key and replica',
  })
  lastUsedAt!: string | null;
}

export class CreatedApiKeyView implements CreatedApiKey {
  @ApiProperty({ example: '3f2a9c0d1b4e5f60' }) id!: string;
  @ApiProperty({
    example: 'sbxd_3f2a9c0d1b4e5f60_…',
    description: 'The key. Shown this once: only its hash is stored',
  })
  key!: string;
  @ApiProperty({ example: 'team-a' }) tenant!: string;
  @ApiProperty({ example: 'ci runner' }) name!: string;
  @ApiProperty({ example: 'sbxd_3f2a9c0d1b4e5f60' }) prefix!: string;
  @ApiProperty({ example: '2026-01-01T00:00:00.000Z' }) createdAt!: string;
}

export class ApiKeyListView {
  @ApiProperty({ type: [ApiKeyView] }) items!: ApiKeyView[];
}
