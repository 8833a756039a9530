import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiHeader,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { LifecycleConfig } from '@app/config';
import { Actor, validationError } from '@app/domain';
import { SandboxService, stateHasTag } from '@app/sandbox';
import { RequestActor } from './auth/request-actor.decorator';
import { CreateSandboxQuery, DeleteSandboxQuery, EmptyBody } from './dto/command.query';
import { CreateSandboxDto } from './dto/create-sandbox.dto';
import { ListSandboxesQuery } from './dto/list-sandboxes.query';
import { ErrorView, SandboxPage, SandboxView } from './dto/sandbox.view';
import { UpdateSandboxDto } from './dto/update-sandbox.dto';
import { SandboxIdPipe } from './http/sandbox-id.pipe';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

@ApiTags('sandboxes')
@ApiBadRequestResponse({ type: ErrorView, description: 'VALIDATION_FAILED, MALFORMED_JSON' })
@Controller('v1/sandboxes')
export class SandboxController {
  constructor(
    private readonly config: LifecycleConfig,
    private readonly sandboxes: SandboxService,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Create a sandbox (202 pending; with wait=true, 200 once settled)' })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'Makes retries safe' })
  @ApiAcceptedResponse({ type: SandboxView })
  @ApiOkResponse({ type: SandboxView, description: 'wait=true, or an idempotent replay' })
  @ApiConflictResponse({ type: ErrorView, description: 'NAME_CONFLICT, IDEMPOTENCY_CONFLICT' })
  @ApiTooManyRequestsResponse({
    type: ErrorView,
    description: "TENANT_QUOTA_EXCEEDED (the key's tenant is at a limit), INSUFFICIENT_CAPACITY",
  })
  async create(
    @RequestActor() actor: Actor,
    @Body() body: CreateSandboxDto,
    @Query() query: CreateSandboxQuery,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) response: Response,
  ): Promise<SandboxView> {
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw validationError('Idempotency-Key', 'must be 1-255 visible ASCII characters');
    }
    const { sandbox } = await this.sandboxes.create(actor, body, {
      idempotencyKey,
      wait: query.wait === true,
    });
    // Work still in flight (a create that did not wait) is accepted, not done.
    response.status(stateHasTag(sandbox, 'busy') ? 202 : 200);
    return SandboxView.of(sandbox);
  }

  @Get()
  @ApiOperation({
    summary: "List sandboxes (filters, cursor pagination); a tenant key lists only its tenant's",
  })
  @ApiOkResponse({ type: SandboxPage })
  async list(
    @RequestActor() actor: Actor,
    @Query() query: ListSandboxesQuery,
  ): Promise<SandboxPage> {
    const page = await this.sandboxes.list(actor, {
      tenant: query.tenant,
      states: query.state,
      labels: query.label ? Object.fromEntries(query.label.map(splitLabel)) : undefined,
      image: query.image,
      includeDeleted: query.includeDeleted === true,
      limit: query.limit ?? 100,
      cursor: query.cursor,
    });
    return { items: page.items.map((s) => SandboxView.of(s)), nextCursor: page.nextCursor };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Inspect a sandbox by id or name' })
  @ApiOkResponse({ type: SandboxView })
  @ApiNotFoundResponse({ type: ErrorView })
  async get(
    @RequestActor() actor: Actor,
    @Param('id', SandboxIdPipe) id: string,
  ): Promise<SandboxView> {
    const sandbox = await this.sandboxes.get(actor, id);
    // Reads count as activity only when configured; never block the answer on it.
    if (this.config.activityIncludesReads) void this.sandboxes.recordActivity(actor, sandbox.id);
    return SandboxView.of(sandbox);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change a sandbox: set or clear protected' })
  @ApiOkResponse({ type: SandboxView })
  @ApiNotFoundResponse({ type: ErrorView })
  @ApiConflictResponse({ type: ErrorView, description: 'INVALID_TRANSITION (deleted)' })
  async update(
    @RequestActor() actor: Actor,
    @Param('id', SandboxIdPipe) id: string,
    @Body() body: UpdateSandboxDto,
  ): Promise<SandboxView> {
    return SandboxView.of(await this.sandboxes.setProtected(actor, id, body.protected));
  }

  @Post(':id/keepalive')
  @HttpCode(200)
  @ApiOperation({ summary: 'Activity: push the idle deadline (autoStopAt) out' })
  @ApiOkResponse({ type: SandboxView })
  @ApiNotFoundResponse({ type: ErrorView })
  @ApiConflictResponse({ type: ErrorView, description: 'SANDBOX_NOT_RUNNING' })
  @ApiBody({ type: EmptyBody, required: false })
  async keepAlive(
    @RequestActor() actor: Actor,
    @Param('id', SandboxIdPipe) id: string,
    @Body() _body: EmptyBody,
  ): Promise<SandboxView> {
    return SandboxView.of(await this.sandboxes.keepAlive(actor, id));
  }

  @Post(':id/stop')
  @HttpCode(200)
  @ApiOperation({ summary: 'Stop (keeps the container and its file system); no-op when stopped' })
  @ApiOkResponse({ type: SandboxView })
  @ApiNotFoundResponse({ type: ErrorView })
  @ApiConflictResponse({
    type: ErrorView,
    description: 'INVALID_TRANSITION (deleted), SANDBOX_BUSY',
  })
  @ApiBody({ type: EmptyBody, required: false })
  async stop(
    @RequestActor() actor: Actor,
    @Param('id', SandboxIdPipe) id: string,
    @Body() _body: EmptyBody,
  ): Promise<SandboxView> {
    return SandboxView.of(await this.sandboxes.stop(actor, id));
  }

  @Post(':id/restart')
  @HttpCode(200)
  @ApiOperation({ summary: 'Restart a stopped sandbox: same container, ports and file system' })
  @ApiOkResponse({ type: SandboxView })
  @ApiNotFoundResponse({ type: ErrorView })
  @ApiConflictResponse({ type: ErrorView, description: 'INVALID_TRANSITION unless stopped' })
  @ApiBody({ type: EmptyBody, required: false })
  async restart(
    @RequestActor() actor: Actor,
    @Param('id', SandboxIdPipe) id: string,
    @Body() _body: EmptyBody,
  ): Promise<SandboxView> {
    return SandboxView.of(await this.sandboxes.restart(actor, id));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete permanently (from stopped; force=true stops first)' })
  @ApiNoContentResponse({ description: 'Deleted (also when it already was)' })
  @ApiNotFoundResponse({ type: ErrorView })
  @ApiConflictResponse({
    type: ErrorView,
    description: 'INVALID_TRANSITION when live and not forced; SANDBOX_PROTECTED while protected',
  })
  @ApiBody({ type: EmptyBody, required: false })
  async delete(
    @RequestActor() actor: Actor,
    @Param('id', SandboxIdPipe) id: string,
    @Query() query: DeleteSandboxQuery,
    @Body() _body: EmptyBody,
  ): Promise<void> {
    await this.sandboxes.delete(actor, id, query.force === true);
  }
}

function splitLabel(pair: string): [string, string] {
  const at = pair.indexOf('=');
  return [pair.slice(0, at), pair.slice(at + 1)];
}
