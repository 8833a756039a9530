import { Injectable, Logger } from '@nestjs/common';
import { DockerConfig, PoolConfig, ResourcesConfig, WarmPoolEntry } from '@app/config';
import { describeError, SandboxSpec } from '@app/domain';
import { DockerDeployment, OwnedContainer } from '@app/deployment';
import { SandboxMetaStore } from '@app/meta-store';
import { ContainerProvisioner } from '../container-provisioner';
import { containerSpecOf } from '../container-spec';
import { toSandboxSpec } from '../create-sandbox.input';
import { newSandboxId } from '../sandbox-id';
import { SandboxResources } from '../sandbox-resources';
import type { LogDirQuotaFacts } from '../sandbox.machine';
import { PoolMetrics } from './pool-metrics';
import { poolKeyOf } from './pool-key';

/** A started container waiting to become a sandbox; its id is the sandbox id it will have. */
export interface PoolMember {
  sandboxId: string;
  containerId: string;
  poolKey: string;
  /** The quota step's outcome when this process made the member; null for an adopted one. */
  logDirQuota: LogDirQuotaFacts | null;
}

/** One configured pool, as /health reports it. */
export interface PoolStatus {
  image: string;
  size: number;
  idle: number;
  filling: boolean;
  /** Why the last refill failed; null once one succeeds. */
  lastError: string | null;
}

interface Pool {
  entry: WarmPoolEntry;
  key: string;
  /** What a create of just this image asks for: the spec every member is made with. */
  spec: SandboxSpec;
  /** Oldest first, so members are used in the order they were made. */
  idle: PoolMember[];
  filler: Promise<void> | null;
  lastError: string | null;
  /** After a failed refill, creates do not start another before this instant (epoch ms). */
  retryAt: number;
}

/**
 * How long creates leave a pool alone after its refill failed (an image that cannot be pulled,
 * an engine refusing the limits): each would otherwise try again at once. The periodic check
 * (every SCHEDULER_INTERVAL_SECONDS) still tries.
 */
export const REFILL_BACKOFF_MS = 5_000;

/**
 * Keeps WARM_POOL's containers made and started ahead of time, so a create that matches one
 * (poolKeyOf) becomes running without waiting for Docker. A member is provisioned exactly like a
 * cold sandbox, under the sandbox id it will carry, and labelled LABEL_POOL: taking it is only
 * inserting the record with that id, after which every operation treats it as any other sandbox.
 * Members belong to this process (INSTANCE_ID): it adopts its own after a restart, removes those
 * no configured pool wants, refills one member at a time per pool, and removes the idle ones on
 * shutdown when WARM_POOL_REMOVE_ON_SHUTDOWN is on.
 */
@Injectable()
export class WarmPool {
  private readonly logger = new Logger(WarmPool.name);
  private readonly pools: Pool[];
  private readonly byKey = new Map<string, Pool>();
  private stopping = false;

  constructor(
    private readonly config: PoolConfig,
    private readonly dockerConfig: DockerConfig,
    resourcesConfig: ResourcesConfig,
    private readonly deployment: DockerDeployment,
    private readonly provisioner: ContainerProvisioner,
    private readonly store: SandboxMetaStore,
    private readonly resources: SandboxResources,
    private readonly metrics: PoolMetrics,
  ) {
    this.pools = config.entries.map((entry) => {
      const spec = toSandboxSpec({ image: entry.image }, resourcesConfig);
      // Never null: a create of just an image has no ports and no own command.
      const key = poolKeyOf(spec, dockerConfig.sandboxNetwork)!;
      return { entry, key, spec, idle: [], filler: null, lastError: null, retryAt: 0 };
    });
    for (const pool of this.pools) this.byKey.set(pool.key, pool);
    metrics.observe(() => this.status());
  }

  /**
   * A ready member for a create of `spec`, or null (no matching pool, or it is empty right now).
   * Synchronous, so two creates can never take the same member. The caller calls refill() once
   * its create is done.
   */
  take(spec: SandboxSpec): PoolMember | null {
    const pool = this.poolFor(spec);
    if (!pool || pool.entry.size === 0 || this.stopping) return null;
    const member = pool.idle.shift() ?? null;
    this.metrics.took(pool.entry.image, member !== null);
    return member;
  }

  /**
   * Tops up the pool that serves `spec`, if any. Called when a create that matched it is done
   * rather than at take(): making a container keeps the engine busy for a few hundred
   * milliseconds, and on a small host that would slow down the very create it was taken for.
   */
  refill(spec: SandboxSpec): void {
    const pool = this.poolFor(spec);
    if (pool && Date.now() >= pool.retryAt) this.fill(pool);
  }

  /** Returns a member whose create did not happen (refused, replayed): it is still as made. */
  giveBack(member: PoolMember): void {
    const pool = this.byKey.get(member.poolKey);
    if (pool && !this.stopping && pool.idle.length < pool.entry.size) {
      pool.idle.unshift(member);
      return;
    }
    void this.discard(member.sandboxId, member.containerId);
  }

  /**
   * Boot: takes over this instance's members left by an earlier run (still running, wanted by a
   * configured pool, not claimed by a sandbox record), removes the other unclaimed ones, fills up.
   */
  async start(): Promise<void> {
    const containers = await this.deployment.listOwned({
      instanceId: this.dockerConfig.instanceId,
      pooled: true,
    });
    const ids = containers.map((c) => c.sandboxId).filter((id): id is string => id !== null);
    const claimed = new Set((await this.store.loadMany(ids)).map((r) => r.info.id));
    for (const container of containers) {
      if (container.sandboxId === null || claimed.has(container.sandboxId)) continue;
      const pool = container.poolKey ? this.byKey.get(container.poolKey) : undefined;
      if (pool && container.running && pool.idle.length < pool.entry.size) {
        pool.idle.push(memberOf(container, pool.key));
      } else {
        await this.discard(container.sandboxId, container.containerId);
      }
    }
    const adopted = this.pools.reduce((n, pool) => n + pool.idle.length, 0);
    if (adopted > 0) this.logger.log(`adopted ${adopted} warm-pool member(s) of an earlier run`);
    for (const pool of this.pools) this.fill(pool);
  }

  /** Periodic check: drops idle members whose container stopped or vanished, then refills. */
  async maintain(): Promise<void> {
    for (const pool of this.pools) {
      for (const member of [...pool.idle]) {
        const state = await this.deployment.inspect(member.containerId).catch(() => undefined);
        // undefined: the engine did not answer; judge the member next time.
        if (state === undefined || state?.running) continue;
        const at = pool.idle.indexOf(member);
        if (at < 0) continue; // taken meanwhile: the create resumes it like any sandbox
        pool.idle.splice(at, 1);
        this.logger.warn(`warm-pool member ${member.sandboxId} is not running any more; replaced`);
        await this.discard(member.sandboxId, member.containerId);
      }
      this.fill(pool);
    }
  }

  /** Shutdown: no more refills or takes; the idle members are removed if so configured. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.settled();
    if (!this.config.removeOnShutdown) return;
    const idle = this.pools.flatMap((pool) => pool.idle.splice(0));
    await Promise.all(idle.map((m) => this.discard(m.sandboxId, m.containerId)));
  }

  status(): PoolStatus[] {
    return this.pools.map((pool) => ({
      image: pool.entry.image,
      size: pool.entry.size,
      idle: pool.idle.length,
      filling: pool.filler !== null,
      lastError: pool.lastError,
    }));
  }

  /** Waits until every pool is full or its refill failed (tests and benchmarks use it). */
  async settled(): Promise<void> {
    const fillers = this.pools.flatMap((pool) => (pool.filler ? [pool.filler] : []));
    await Promise.allSettled(fillers);
  }

  /**
   * One filler per pool, making members one after the other: refilling must not compete with
   * cold creates for the engine more than one container at a time. A failure ends the round;
   * the periodic check, or a create after REFILL_BACKOFF_MS, tries again.
   */
  private fill(pool: Pool): void {
    if (pool.filler || this.stopping || pool.idle.length >= pool.entry.size) return;
    pool.filler = (async () => {
      try {
        while (!this.stopping && pool.idle.length < pool.entry.size) {
          const member = await this.make(pool);
          pool.lastError = null;
          // A member given back while this one was made may have filled the pool already.
          if (this.stopping || pool.idle.length >= pool.entry.size) {
            await this.discard(member.sandboxId, member.containerId);
            break;
          }
          pool.idle.push(member);
        }
      } catch (error) {
        pool.retryAt = Date.now() + REFILL_BACKOFF_MS;
        pool.lastError = describeError(error);
        this.logger.warn(`warm pool ${pool.entry.image}: refill failed: ${pool.lastError}`);
      } finally {
        pool.filler = null;
      }
    })();
  }

  private poolFor(spec: SandboxSpec): Pool | undefined {
    // Every create asks, twice: without WARM_POOL there is no key worth hashing.
    if (this.byKey.size === 0) return undefined;
    const key = poolKeyOf(spec, this.dockerConfig.sandboxNetwork);
    return key === null ? undefined : this.byKey.get(key);
  }

  private async make(pool: Pool): Promise<PoolMember> {
    const sandboxId = newSandboxId();
    const disk = await this.resources.diskPlan(pool.spec);
    const spec = containerSpecOf(sandboxId, pool.spec, disk?.enforced ?? false);
    try {
      const made = await this.provisioner.provision({ ...spec, poolKey: pool.key });
      return { ...memberOf(made.state, pool.key), logDirQuota: made.logDirQuota };
    } catch (error) {
      // provision removes a half-made container itself; the log dir is ours to clear.
      await this.discard(sandboxId, this.deployment.containerName(sandboxId));
      throw error;
    }
  }

  /** Best effort: a member that cannot be removed now is an unclaimed one the next boot clears. */
  private async discard(sandboxId: string, containerId: string): Promise<void> {
    try {
      await this.provisioner.remove(sandboxId, containerId);
    } catch (error) {
      this.logger.warn(`could not remove warm-pool member ${sandboxId}: ${describeError(error)}`);
    }
  }
}

function memberOf(container: OwnedContainer, poolKey: string): PoolMember {
  return {
    sandboxId: container.sandboxId!,
    containerId: container.containerId,
    poolKey,
    logDirQuota: null,
  };
}
