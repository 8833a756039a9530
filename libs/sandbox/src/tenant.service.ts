import { Injectable } from '@nestjs/common';
import { Actor, requireAdmin, tenantNameOf } from '@app/domain';
import type { TenantLimits, TenantUsage } from '@app/domain';
import { SandboxMetaStore, TenantLimitsStore } from '@app/meta-store';

/** A tenant as the admin sees it: its limits and what it holds now. */
export interface TenantReport {
  tenant: string;
  limits: TenantLimits;
  /** When the limits were last set; null if they never were. */
  limitsUpdatedAt: string | null;
  usage: TenantUsage;
}

/**
 * The admin's view and control of tenants: limits (enforced at admission, SandboxResources) and
 * live usage. Admin only: the HTTP guard refuses a tenant key first (@AdminOnly), and this
 * refuses it again (FORBIDDEN), so no other door can let a tenant raise its own limits.
 */
@Injectable()
export class TenantService {
  constructor(
    private readonly store: SandboxMetaStore,
    private readonly limits: TenantLimitsStore,
  ) {}

  async describe(actor: Actor, tenant: string): Promise<TenantReport> {
    requireAdmin(actor, 'reading a tenant');
    const name = tenantNameOf(tenant);
    const [stored, usage] = await Promise.all([
      this.limits.get(name),
      this.store.tenantUsage(name),
    ]);
    return { tenant: name, limits: stored.limits, limitsUpdatedAt: stored.updatedAt, usage };
  }

  /**
   * Sets the limits `change` names (null clears one; an absent one is kept). A limit below what
   * the tenant holds now stops nothing: its next creates are refused until it holds less.
   */
  async setLimits(
    actor: Actor,
    tenant: string,
    change: Partial<TenantLimits>,
  ): Promise<TenantReport> {
    requireAdmin(actor, 'setting tenant limits');
    const name = tenantNameOf(tenant);
    const stored = await this.limits.set(name, change);
    const usage = await this.store.tenantUsage(name);
    return { tenant: name, limits: stored.limits, limitsUpdatedAt: stored.updatedAt, usage };
  }
}
