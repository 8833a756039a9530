import type { Transport } from './http';
import type { ApiKeySummary, CreateApiKeyRequest, CreatedApiKey } from './types';

/**
 * The admin API's keys (`/v1/admin/api-keys`), for a client made with the admin key
 * (ADMIN_API_KEY); a tenant's key gets FORBIDDEN.
 */
export class ApiKeysAdmin {
  constructor(private readonly transport: Transport) {}

  /** Makes a key for a tenant. The answer's `key` is the only time the key is ever shown. */
  create(body: CreateApiKeyRequest): Promise<CreatedApiKey> {
    return this.transport.json<CreatedApiKey>({
      method: 'POST',
      path: '/v1/admin/api-keys',
      json: body,
    });
  }

  /** The keys not revoked, oldest first (never a key: its id, name, tenant, prefix, times). */
  async list(options: { tenant?: string } = {}): Promise<ApiKeySummary[]> {
    const page = await this.transport.json<{ items: ApiKeySummary[] }>({
      method: 'GET',
      path: '/v1/admin/api-keys',
      query: { tenant: options.tenant },
    });
    return page.items;
  }

  /** Revokes a key: every replica refuses it within 1 s. Revoking it again is a no-op. */
  revoke(id: string): Promise<void> {
    return this.transport.empty({
      method: 'DELETE',
      path: `/v1/admin/api-keys/${encodeURIComponent(id)}`,
    });
  }
}
