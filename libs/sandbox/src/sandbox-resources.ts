import { Injectable, Logger } from '@nestjs/common';
import { ResourcesConfig } from '@app/config';
import {
  CodedError,
  describeError,
  isCodedError,
  validationError,
  SandboxInfo,
  SandboxSpec,
} from '@app/domain';
import type { TenantLimits } from '@app/domain';
import { EngineFacts, runtimeDisablesNetwork } from '@app/deployment';
import { SandboxMetaStore, TenantLimitsStore, cpuNanosOf } from '@app/meta-store';
import type { ResourceReservation } from '@app/meta-store';
import { QuotaService, StorageOptSupport } from '@app/quota';
import { formatMemorySize, parseMemorySize } from './memory-size';
import { tenantQuotaRefusal } from './tenant-quota';

/** The host the engine runs on, as far as admission is concerned. */
interface HostCapacity {
  cpus: number;
  memoryBytes: number;
}

/**
 * How often a refused reservation is tried again when the usage read after it shows room after
 * all (a sandbox stopped in between): the refusal must name what it ran out of.
 */
const EXPLAIN_ATTEMPTS = 3;

/**
 * Resource rules of a create: per-sandbox caps and runtime allowlist (400), the disk limit policy
 * (enforced where the engine's storage supports it, else 422 or a truthful warning), the tenant's
 * limits (429 TENANT_QUOTA_EXCEEDED) and host admission: 422 EXCEEDS_HOST_CAPACITY for a request
 * that could not fit even on an empty host (a retry can never help), 429 INSUFFICIENT_CAPACITY
 * when it fits the host but not next to the live sandboxes (a retry after some stop may).
 */
@Injectable()
export class SandboxResources {
  private readonly logger = new Logger(SandboxResources.name);
  private support: Promise<StorageOptSupport> | null = null;
  private capacity: Promise<HostCapacity> | null = null;

  constructor(
    private readonly config: ResourcesConfig,
    private readonly engine: EngineFacts,
    private readonly quota: QuotaService,
    private readonly store: SandboxMetaStore,
    private readonly tenantLimits: TenantLimitsStore,
  ) {}

  /** Whether `disk` can be enforced here; detected once, from the engine and the mount table. */
  diskSupport(): Promise<StorageOptSupport> {
    this.support ??= this.engine
      .storageInfo()
      .then((info) => this.quota.detectStorageOptSupport(info))
      .catch((error: unknown) => {
        this.support = null; // the engine may answer later: try again next time
        return { supported: false, reason: `could not ask the engine: ${describeError(error)}` };
      });
    return this.support;
  }

  /** Caps and allowlist: a request above a cap is a client mistake naming the cap. */
  checkCaps(spec: SandboxSpec): void {
    const { maxCpus, maxMemory, maxDisk, allowedRuntimes } = this.config;
    if (maxCpus !== null && spec.cpus !== null && spec.cpus > maxCpus) {
      throw validationError('cpus', `must be at most MAX_CPUS (${maxCpus})`);
    }
    const memoryCap = maxMemory === null ? null : parseMemorySize(maxMemory);
    if (memoryCap !== null && spec.memoryBytes !== null && spec.memoryBytes > memoryCap) {
      throw validationError('memory', `must be at most MAX_MEMORY (${maxMemory})`);
    }
    const diskCap = maxDisk === null ? null : parseMemorySize(maxDisk);
    if (diskCap !== null && spec.diskBytes !== null && spec.diskBytes > diskCap) {
      throw validationError('disk', `must be at most MAX_DISK (${maxDisk})`);
    }
    if (!allowedRuntimes.includes(spec.runtime)) {
      throw validationError(
        'runtime',
        `must be one of ALLOWED_RUNTIMES (${allowedRuntimes.join(', ')})`,
      );
    }
    // A port published into no network would be shown in the view and reach nothing.
    if (spec.network === 'none' && spec.ports.length > 0) {
      throw validationError('ports', 'cannot be published by a sandbox with network "none"');
    }
  }

  /**
   * 422 NETWORK_UNSUPPORTED for a `bridge` sandbox on a runtime the engine runs with its network
   * switched off (gVisor's runsc registered with `--network=none`): it would start with only `lo`
   * while its view said bridge. Docker's built-in runc takes no such arguments and is not asked
   * about. A runtime the engine does not know, or an engine that does not answer, is left to the
   * create, which reports either.
   */
  async checkRuntimeNetwork(spec: SandboxSpec): Promise<void> {
    if (spec.network !== 'bridge' || spec.runtime === 'runc') return;
    const args = await this.engine.runtimeArgs(spec.runtime).catch(() => null);
    if (args === null || !runtimeDisablesNetwork(args)) return;
    throw new CodedError(
      'NETWORK_UNSUPPORTED',
      `runtime ${spec.runtime} is registered with the engine with its network off (${args.join(' ')}): its sandboxes can only have network "none"; ask for that, or register the runtime with --network=host (see the README's Sandbox isolation)`,
      { runtime: spec.runtime, network: spec.network, runtimeArgs: [...args] },
    );
  }

  /** What happens to a disk request on this host; throws 422 under DISK_LIMIT_POLICY=reject. */
  async diskPlan(spec: SandboxSpec): Promise<SandboxInfo['disk']> {
    if (spec.diskBytes === null || spec.disk === null) return null;
    const support = await this.diskSupport();
    const view = {
      requested: spec.disk,
      requestedBytes: spec.diskBytes,
      enforced: support.supported,
      reason: support.supported ? null : support.reason,
    };
    if (!support.supported && this.config.diskLimitPolicy === 'reject') {
      throw new CodedError(
        'DISK_LIMIT_UNSUPPORTED',
        `disk ${spec.disk} cannot be enforced on this host (${support.reason}); DISK_LIMIT_POLICY=reject`,
        { reason: support.reason },
      );
    }
    return view;
  }

  /**
   * Runs `insert` with the reservation the sandbox must fit: what `tenant` holds plus this one
   * within the tenant's limits (none for a tenant-less create), and the live sandboxes' committed
   * CPU and memory plus this one within host capacity × OVERCOMMIT_* (`node`: in cluster mode, the
   * live sandboxes on this node, within this node's engine's capacity). The store takes the share
   * with one conditional UPDATE per usage counter row in the insert's transaction, so two creates
   * (in any process, of any tenants) cannot both take the last of a limit, and none waits behind
   * a lock for the others' checks: only the counter rows' locks, from that UPDATE to the commit.
   * The tenant's limits are read for each create, so a change of them holds for the next create
   * on every replica. A refusal is rewritten here, with the usage read after it, into the error
   * that names the limit (429 INSUFFICIENT_CAPACITY or TENANT_QUOTA_EXCEEDED).
   */
  async admit<T>(
    spec: SandboxSpec,
    tenant: string | null,
    node: string | null,
    insert: (reservation: ResourceReservation) => Promise<T>,
  ): Promise<T> {
    const host = await this.hostCapacity();
    this.refuseIfNeverFits(spec, host);
    const { cpuLimit, memoryLimit } = this.limitsOf(host);
    const limits = tenant === null ? null : (await this.tenantLimits.get(tenant)).limits;
    if (tenant !== null && limits !== null) await this.refuseUncountable(spec, tenant, limits);
    const reservation: ResourceReservation = {
      host: { cpuNanos: cpuNanosOf(cpuLimit), memoryBytes: Math.floor(memoryLimit) },
      tenant:
        limits === null
          ? null
          : {
              maxSandboxes: limits.maxSandboxes,
              maxCpuNanos: limits.maxCpus === null ? null : cpuNanosOf(limits.maxCpus),
              maxMemoryBytes: limits.maxMemoryBytes,
            },
    };
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await insert(reservation);
      } catch (error) {
        if (!isRefusal(error)) throw error;
        // The tenant's refusal first, also when the host refused (its row is taken first, in
        // lock order): the tenant can act on its own refusal, not on the host's.
        const explained =
          (tenant !== null && limits !== null
            ? tenantQuotaRefusal(tenant, limits, await this.store.tenantUsage(tenant), spec)
            : null) ??
          (error.code === 'INSUFFICIENT_CAPACITY'
            ? await this.capacityRefusal(spec, host, node)
            : null);
        if (explained !== null) throw explained;
        if (attempt >= EXPLAIN_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * A sandbox without a CPU or memory limit cannot be counted against a tenant's limit of it:
   * refused before any reservation (tenantQuotaRefusal names the limit).
   */
  private async refuseUncountable(
    spec: SandboxSpec,
    tenant: string,
    limits: TenantLimits,
  ): Promise<void> {
    const uncountable =
      (limits.maxCpus !== null && spec.cpus === null) ||
      (limits.maxMemoryBytes !== null && spec.memoryBytes === null);
    if (!uncountable) return;
    const refusal = tenantQuotaRefusal(tenant, limits, await this.store.tenantUsage(tenant), spec);
    if (refusal !== null) throw refusal;
  }

  /** 429 INSUFFICIENT_CAPACITY naming the resource, or null when `spec` fits after all. */
  private async capacityRefusal(
    spec: SandboxSpec,
    host: HostCapacity,
    node: string | null,
  ): Promise<CodedError | null> {
    const committed = await this.store.committedResources(node);
    const { cpuLimit, memoryLimit } = this.limitsOf(host);
    const cpus = cpuNanosOf(committed.cpus) + cpuNanosOf(spec.cpus);
    const memory = committed.memoryBytes + (spec.memoryBytes ?? 0);
    const cpuOver = cpus > cpuNanosOf(cpuLimit);
    if (!cpuOver && memory <= Math.floor(memoryLimit)) return null;
    const which = cpuOver ? 'CPU' : 'memory';
    return new CodedError(
      'INSUFFICIENT_CAPACITY',
      `not enough ${which} on this host: live sandboxes commit ${committed.cpus} CPUs and ${formatMemorySize(committed.memoryBytes)}, capacity is ${round(cpuLimit)} CPUs and ${formatMemorySize(Math.floor(memoryLimit))} (host × OVERCOMMIT_CPU/OVERCOMMIT_MEMORY)`,
      {
        committedCpus: committed.cpus,
        committedMemoryBytes: committed.memoryBytes,
        capacityCpus: cpuLimit,
        capacityMemoryBytes: Math.floor(memoryLimit),
      },
    );
  }

  /** 422 EXCEEDS_HOST_CAPACITY, naming the resource, when `spec` alone is above capacity × overcommit. */
  private refuseIfNeverFits(spec: SandboxSpec, host: HostCapacity): void {
    const { cpuLimit, memoryLimit } = this.limitsOf(host);
    if (spec.cpus !== null && spec.cpus > cpuLimit + 1e-9) {
      throw new CodedError(
        'EXCEEDS_HOST_CAPACITY',
        `cpus ${spec.cpus} can never fit this host: its capacity is ${round(cpuLimit)} CPUs (${host.cpus} CPUs × OVERCOMMIT_CPU ${this.config.overcommitCpu})`,
        { resource: 'cpus', requested: spec.cpus, capacity: cpuLimit },
      );
    }
    if (spec.memoryBytes !== null && spec.memoryBytes > memoryLimit) {
      const capacity = Math.floor(memoryLimit);
      throw new CodedError(
        'EXCEEDS_HOST_CAPACITY',
        `memory ${formatMemorySize(spec.memoryBytes)} can never fit this host: its capacity is ${formatMemorySize(capacity)} (${formatMemorySize(host.memoryBytes)} × OVERCOMMIT_MEMORY ${this.config.overcommitMemory})`,
        { resource: 'memory', requested: spec.memoryBytes, capacity },
      );
    }
  }

  private limitsOf(host: HostCapacity): { cpuLimit: number; memoryLimit: number } {
    return {
      cpuLimit: host.cpus * this.config.overcommitCpu,
      memoryLimit: host.memoryBytes * this.config.overcommitMemory,
    };
  }

  private hostCapacity(): Promise<HostCapacity> {
    this.capacity ??= this.engine.capacity().catch((error: unknown) => {
      this.capacity = null;
      this.logger.warn(`engine capacity unknown: ${describeError(error)}`);
      throw error;
    });
    return this.capacity;
  }
}

/** The store's refusal of a reservation (see reserveUsage), to be explained with the usage. */
function isRefusal(error: unknown): error is CodedError {
  return (
    isCodedError(error) &&
    (error.code === 'INSUFFICIENT_CAPACITY' || error.code === 'TENANT_QUOTA_EXCEEDED')
  );
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
