import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiKeys } from '@app/auth';
import { ErrorView } from '../dto/sandbox.view';
import { AdminOnly } from './admin-only.decorator';
import {
  ApiKeyListView,
  CreateApiKeyDto,
  CreatedApiKeyView,
  ListApiKeysQuery,
} from './api-key.dto';

/** The tenants' API keys, for the admin key only. */
@ApiTags('access')
@AdminOnly()
@ApiForbiddenResponse({ type: ErrorView, description: 'FORBIDDEN: a tenant key' })
@Controller('v1/admin/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeys) {}

  @Post()
  @ApiOperation({ summary: 'Make an API key for a tenant; the key is in this answer only' })
  @ApiCreatedResponse({ type: CreatedApiKeyView })
  create(@Body() body: CreateApiKeyDto): Promise<CreatedApiKeyView> {
    return this.keys.create(body);
  }

  @Get()
  @ApiOperation({ summary: 'List the keys not revoked (never a key, only its prefix)' })
  @ApiOkResponse({ type: ApiKeyListView })
  async list(@Query() query: ListApiKeysQuery): Promise<ApiKeyListView> {
    return { items: await this.keys.list(query.tenant) };
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke a key: every replica answers 401 to it within 1 s' })
  @ApiNoContentResponse({ description: 'Revoked (or revoked already)' })
  @ApiNotFoundResponse({ type: ErrorView, description: 'API_KEY_NOT_FOUND' })
  async revoke(@Param('id') id: string): Promise<void> {
    await this.keys.revoke(id);
  }
}
