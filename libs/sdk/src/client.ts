import { ApiKeysAdmin } from './api-keys';
import { Transport, TransportOptions } from './http';
import { Sandbox } from './sandbox';
import { Tenants } from './tenants';
import { ClusterNodes } from './nodes';
import { eventPage, followEvents } from './events';
import type { EventPage, EventQuery, SandboxEvent } from './events';
import type {
  CreateSandboxRequest,
  ListSandboxesParams,
  SandboxPage,
  SandboxState,
  SandboxView,
} from './types';

export type SandboxdClientOptions = TransportOptions;

/** A sandbox handle whose view has been loaded. */
export type LoadedSandbox = Sandbox & { readonly info: SandboxView };

export interface CreateOptions {
  /** Answer once the sandbox is running or has failed (stopped, with failureReason). */
  wait?: boolean;
  /** The same key and body return the same sandbox: retries never make a second one. */
  idempotencyKey?: string;
}

export interface ListQuery {
  state?: SandboxState | SandboxState[];
  /** All must match. */
  labels?: Record<string, string>;
  image?: string;
  includeDeleted?: boolean;
  /** Only this tenant's (the admin's filter; a tenant key lists its own tenant's only). */
  tenant?: string;
  /** Page size (1-500); iteration still goes through every page. */
  limit?: number;
}

/** How long a create with wait=true may take beyond the usual limit (an image pull, a start). */
const CREATE_WAIT_EXTRA_MS = 5 * 60_000;

export class SandboxdClient {
  private readonly transport: Transport;
  /** The admin's tenants API: limits and usage (needs the admin key when auth is on). */
  readonly tenants: Tenants;
  /** The tenants' API keys (admin key only). */
  readonly apiKeys: ApiKeysAdmin;
  /** The cluster's nodes (admin key only; empty on a single host). */
  readonly nodes: ClusterNodes;

  constructor(options: SandboxdClientOptions) {
    this.transport = new Transport(options);
    this.tenants = new Tenants(this.transport);
    this.apiKeys = new ApiKeysAdmin(this.transport);
    this.nodes = new ClusterNodes(this.transport);
  }

  async create(body: CreateSandboxRequest, options: CreateOptions = {}): Promise<LoadedSandbox> {
    const view = await this.transport.json<SandboxView>({
      method: 'POST',
      path: '/v1/sandboxes',
      query: { wait: options.wait ? true : undefined },
      json: body,
      headers: options.idempotencyKey ? { 'Idempotency-Key': options.idempotencyKey } : undefined,
      extraTimeoutMs: options.wait ? CREATE_WAIT_EXTRA_MS : undefined,
    });
    return new Sandbox(this.transport, view.id, view) as LoadedSandbox;
  }

  /** Looks a sandbox up by id or name. */
  async get(idOrName: string): Promise<LoadedSandbox> {
    const sandbox = new Sandbox(this.transport, idOrName);
    await sandbox.refresh();
    return sandbox as LoadedSandbox;
  }

  /** A handle without a request; `info` stays null until something loads it. */
  sandbox(idOrName: string): Sandbox {
    return new Sandbox(this.transport, idOrName);
  }

  /** One page, for callers that keep the cursor themselves. */
  listPage(query: ListQuery = {}, cursor?: string): Promise<SandboxPage> {
    const params: ListSandboxesParams = {
      state: query.state === undefined ? undefined : ([] as SandboxState[]).concat(query.state),
      label: query.labels && Object.entries(query.labels).map(([k, v]) => `${k}=${v}`),
      image: query.image,
      includeDeleted: query.includeDeleted,
      tenant: query.tenant,
      limit: query.limit,
      cursor,
    };
    return this.transport.json<SandboxPage>({
      method: 'GET',
      path: '/v1/sandboxes',
      query: params,
    });
  }

  /** Every matching sandbox, page after page, following nextCursor. */
  /** One page of the lifecycle event log (GET /v1/events). */
  events(query: EventQuery = {}): Promise<EventPage> {
    return eventPage(this.transport, query);
  }

  /** The live lifecycle events, reconnecting from the last one seen, until `signal` aborts. */
  followEvents(
    query: EventQuery & { signal?: AbortSignal } = {},
  ): AsyncGenerator<SandboxEvent, void, undefined> {
    return followEvents(this.transport, query);
  }

  async *list(query: ListQuery = {}): AsyncGenerator<SandboxView, void, undefined> {
    let cursor: string | undefined;
    do {
      const page = await this.listPage(query, cursor);
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }
}
