import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Request } from 'express';
import { validationError } from '@app/domain';
import { actorOfRequest } from '@app/extension-api';
import type { DeliveryView, WebhookInfo } from '@app/meta-store';
import { CreateWebhookDto, DeliveriesQuery } from './webhook.dto';
import { WebhooksService } from './webhooks.service';

const WEBHOOK_ID = /^wh_[0-9a-f]{24}$/;

/** A webhook id as the path gives it: a malformed one is 400, an unknown one 404. */
function webhookId(id: string): string {
  if (!WEBHOOK_ID.test(id)) throw validationError('id', 'must be a webhook id (wh_…)');
  return id;
}

@ApiTags('webhooks')
@Controller('v1/webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @ApiOperation({ summary: 'Register a webhook; the answer shows its signing secret this once' })
  @ApiCreatedResponse({
    description: '{ id, url, events, description, tenant, createdAt, secret }',
  })
  create(
    @Body() body: CreateWebhookDto,
    @Req() request: Request,
  ): Promise<WebhookInfo & { secret: string }> {
    return this.webhooks.create(body, actorOfRequest(request));
  }

  @Get()
  @ApiOperation({ summary: 'List webhooks (a tenant key sees its own)' })
  async list(@Req() request: Request): Promise<{ items: WebhookInfo[] }> {
    return { items: await this.webhooks.list(actorOfRequest(request)) };
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a webhook and its deliveries' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ description: 'WEBHOOK_NOT_FOUND' })
  async delete(@Param('id') id: string, @Req() request: Request): Promise<void> {
    await this.webhooks.delete(webhookId(id), actorOfRequest(request));
  }

  @Post(':id/test')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send a signed webhook.test delivery' })
  test(@Param('id') id: string, @Req() request: Request): Promise<{ deliveryId: string }> {
    return this.webhooks.test(webhookId(id), actorOfRequest(request));
  }

  @Get(':id/deliveries')
  @ApiOperation({ summary: 'The newest deliveries, each with its attempts and status codes' })
  async deliveries(
    @Param('id') id: string,
    @Query() query: DeliveriesQuery,
    @Req() request: Request,
  ): Promise<{ items: DeliveryView[] }> {
    const items = await this.webhooks.deliveries(
      webhookId(id),
      query.limit ?? 50,
      actorOfRequest(request),
    );
    return { items };
  }
}
