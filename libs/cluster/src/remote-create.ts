import { Injectable } from '@nestjs/common';
import { ClusterConfig, LifecycleConfig } from '@app/config';
import { CodedError, ERROR_CODES } from '@app/domain';
import type { Actor, ErrorCode, SandboxInfo } from '@app/domain';
import { CLUSTER_HEADERS, encodeActor } from './cluster-headers';
import type { InstanceAddress } from './cluster-directory';
import { openInstanceCall, readText } from './instance-call';

/** The internal route of the instance a create is placed on (its controller is in the app). */
export const REMOTE_CREATE_PATH = '/internal/cluster/v1/create';

/** What the placing instance sends: the create as it was asked, already parsed. */
export interface RemoteCreateRequest {
  /** The CreateSandboxInput, as the edge parsed it. */
  input: unknown;
  idempotencyKey?: string;
  wait: boolean;
  /** The Swarm node it was placed on: the owner refuses a create meant for another node. */
  node: string;
}

export interface RemoteCreateResult {
  sandbox: SandboxInfo;
  created: boolean;
}

/**
 * Runs a create on the instance of the node placement chose, with the caller's actor, and answers
 * what that instance answered: its result, or its coded error rebuilt (so a refusal reads exactly
 * as on the owner). An unreachable instance is 503 NODE_UNAVAILABLE; placement then tries the
 * next node.
 */
@Injectable()
export class RemoteCreate {
  constructor(
    private readonly config: ClusterConfig,
    private readonly lifecycle: LifecycleConfig,
  ) {}

  async create(
    target: InstanceAddress,
    actor: Actor,
    body: RemoteCreateRequest,
  ): Promise<RemoteCreateResult> {
    const payload = Buffer.from(JSON.stringify(body));
    const response = await openInstanceCall(
      { url: target.apiUrl, name: target.hostname || target.nodeId },
      'POST',
      REMOTE_CREATE_PATH,
      {
        'content-type': 'application/json',
        'content-length': payload.length,
        [CLUSTER_HEADERS.secret]: this.config.secret ?? '',
        [CLUSTER_HEADERS.actor]: encodeActor(actor),
      },
      {
        connectMs: this.config.connectTimeoutMs,
        // A create with wait=true answers within the wait; the rest is slack for the network.
        totalMs: this.lifecycle.waitTimeoutSeconds * 1000 + 30_000,
      },
      (request) => request.end(payload),
    );
    const text = await readText(response);
    const status = response.statusCode ?? 500;
    const parsed = parseJson(text);
    if (status >= 200 && status < 300 && isCreateResult(parsed)) return parsed;
    throw errorOf(status, parsed, target);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function isCreateResult(value: unknown): value is RemoteCreateResult {
  if (typeof value !== 'object' || value === null) return false;
  const { sandbox, created } = value as Record<string, unknown>;
  return typeof sandbox === 'object' && sandbox !== null && typeof created === 'boolean';
}

/** The owner's `{statusCode, code, message, details}` as the CodedError it was thrown as. */
function errorOf(status: number, body: unknown, target: InstanceAddress): CodedError {
  const { code, message, details } = (body ?? {}) as Record<string, unknown>;
  if (typeof code === 'string' && ERROR_CODES.includes(code as ErrorCode)) {
    return new CodedError(
      code as ErrorCode,
      typeof message === 'string' ? message : code,
      typeof details === 'object' && details !== null
        ? (details as Record<string, unknown>)
        : undefined,
    );
  }
  return new CodedError(
    'NODE_UNAVAILABLE',
    `the cluster node ${target.hostname || target.nodeId} answered the create with HTTP ${status}`,
    { node: target.hostname || target.nodeId, status },
  );
}
