import { Body, Controller, Get, Param, Put } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { Actor } from '@app/domain';
import type { TenantLimits } from '@app/domain';
import { parseMemorySize, TenantService } from '@app/sandbox';
import { AdminOnly } from './auth/admin-only.decorator';
import { RequestActor } from './auth/request-actor.decorator';
import { ErrorView } from './dto/sandbox.view';
import { TenantLimitsDto, TenantView } from './dto/tenant.dto';
import { TenantNamePipe } from './http/tenant-name.pipe';

/**
 * The admin's tenants API: limits (enforced when a tenant key creates a sandbox, 429
 * TENANT_QUOTA_EXCEEDED) and what each tenant holds now. A tenant needs no registering: any tenant
 * name can be read or limited, before or after it has keys or sandboxes.
 */
@ApiTags('operations')
@AdminOnly()
@ApiBadRequestResponse({ type: ErrorView, description: 'VALIDATION_FAILED naming the field' })
@ApiForbiddenResponse({ type: ErrorView, description: 'FORBIDDEN: a tenant key' })
@Controller('v1/admin/tenants')
export class TenantsController {
  constructor(private readonly tenants: TenantService) {}

  @Get(':tenant')
  @ApiOperation({ summary: "A tenant's limits and what it holds now" })
  @ApiOkResponse({ type: TenantView })
  async get(
    @RequestActor() actor: Actor,
    @Param('tenant', TenantNamePipe) tenant: string,
  ): Promise<TenantView> {
    return TenantView.of(await this.tenants.describe(actor, tenant));
  }

  @Put(':tenant/limits')
  @ApiOperation({
    summary: "Set a tenant's limits: absent keeps a limit, null clears it; in force at once",
  })
  @ApiOkResponse({ type: TenantView })
  async setLimits(
    @RequestActor() actor: Actor,
    @Param('tenant', TenantNamePipe) tenant: string,
    @Body() body: TenantLimitsDto,
  ): Promise<TenantView> {
    return TenantView.of(await this.tenants.setLimits(actor, tenant, limitsChange(body)));
  }
}

/** The DTO (validated) as the limits it changes: memory in bytes. */
function limitsChange(body: TenantLimitsDto): Partial<TenantLimits> {
  const change: Partial<TenantLimits> = {};
  if (body.maxSandboxes !== undefined) change.maxSandboxes = body.maxSandboxes;
  if (body.maxCpus !== undefined) change.maxCpus = body.maxCpus;
  if (body.maxMemory !== undefined) {
    change.maxMemoryBytes = body.maxMemory === null ? null : parseMemorySize(body.maxMemory);
  }
  return change;
}
