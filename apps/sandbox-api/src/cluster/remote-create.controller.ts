import { Body, Controller, Headers, HttpCode, Post } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { CLUSTER_HEADERS, isClusterSecret } from '@app/cluster';
import type { RemoteCreateResult } from '@app/cluster';
import { ClusterConfig } from '@app/config';
import { Actor, CodedError } from '@app/domain';
import { CreateSandboxInput, SandboxService } from '@app/sandbox';
import { RequestActor } from '../auth/request-actor.decorator';

/**
 * Cluster mode: a create that another instance placed on this node (RemoteCreate), for the actor
 * that instance authenticated. Not part of the public API: it answers only a caller with the
 * cluster secret, and is not in the OpenAPI document.
 */
@ApiExcludeController()
@Controller('internal/cluster/v1')
export class RemoteCreateController {
  constructor(
    private readonly config: ClusterConfig,
    private readonly sandboxes: SandboxService,
  ) {}

  @Post('create')
  @HttpCode(200)
  async create(
    @RequestActor() actor: Actor,
    @Headers(CLUSTER_HEADERS.secret) secret: string | undefined,
    @Body() body: unknown,
  ): Promise<RemoteCreateResult> {
    if (!this.config.enabled) {
      throw new CodedError('ROUTE_NOT_FOUND', 'POST /internal/cluster/v1/create is not served');
    }
    if (!isClusterSecret(this.config.secret, secret)) {
      throw new CodedError('FORBIDDEN', 'this route takes the cluster secret');
    }
    const { input, idempotencyKey, wait, node } = parsed(body);
    return this.sandboxes.create(actor, input, { idempotencyKey, wait, placedOn: node });
  }
}

/** The placing instance's request; its input was validated by that instance's edge. */
function parsed(body: unknown): {
  input: CreateSandboxInput;
  idempotencyKey?: string;
  wait: boolean;
  node: string;
} {
  const { input, idempotencyKey, wait, node } = (body ?? {}) as Record<string, unknown>;
  if (typeof input !== 'object' || input === null || typeof node !== 'string') {
    throw new CodedError('VALIDATION_FAILED', 'a remote create needs input and node');
  }
  if (typeof (input as { image?: unknown }).image !== 'string') {
    throw new CodedError('VALIDATION_FAILED', 'a remote create needs input.image');
  }
  return {
    input: input as CreateSandboxInput,
    idempotencyKey: typeof idempotencyKey === 'string' ? idempotencyKey : undefined,
    wait: wait === true,
    node,
  };
}
