import type { Transport } from './http';
import type { TenantLimitsRequest, TenantView } from './types';

/** The admin's tenants API (/v1/admin/tenants): a tenant key is refused with FORBIDDEN. */
export class Tenants {
  constructor(private readonly transport: Transport) {}

  /** A tenant's limits and what it holds now (any tenant name: tenants need no registering). */
  get(tenant: string): Promise<TenantView> {
    return this.transport.json<TenantView>({
      method: 'GET',
      path: `/v1/admin/tenants/${encodeURIComponent(tenant)}`,
    });
  }

  /** Sets the limits named (null clears one, an absent one is kept); answers the tenant. */
  setLimits(tenant: string, limits: TenantLimitsRequest): Promise<TenantView> {
    return this.transport.json<TenantView>({
      method: 'PUT',
      path: `/v1/admin/tenants/${encodeURIComponent(tenant)}/limits`,
      json: limits,
    });
  }
}
