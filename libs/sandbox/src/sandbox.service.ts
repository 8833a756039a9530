import { Injectable, Logger, Optional } from '@nestjs/common';
import { DockerConfig, LifecycleConfig, ResourcesConfig } from '@app/config';
import { CodedError, describeError, LIVE_STATES, SandboxInfo, SandboxRecord } from '@app/domain';
import { DockerDeployment } from '@app/deployment';
import { ListSandboxesQuery, SandboxLock, SandboxMetaStore, SandboxPage } from '@app/meta-store';
import { ContainerProvisioner } from './container-provisioner';
import { CreateSandboxInput, fingerprintOf, toSandboxSpec } from './create-sandbox.input';
import { autoStopAt, effectiveAutoDeleteSeconds } from './deadlines';
import { newSandboxId } from './sandbox-id';
import { SandboxDriver } from './sandbox-driver';
import { SandboxMetrics } from './sandbox-metrics';
import { SandboxResources } from './sandbox-resources';
import { MACHINE_VERSION, SandboxMachineEvent } from './sandbox.machine';
import { WarmPool } from './warm-pool/warm-pool';

export interface CreateOptions {
  idempotencyKey?: string;
  /** Answer only once the sandbox is running or has failed. */
  wait: boolean;
}

export interface CreateResult {
  sandbox: SandboxInfo;
  /** False when an Idempotency-Key replay returned the sandbox created before. */
  created: boolean;
}

/** The store's list query, passed through as it is. */
export type ListQuery = ListSandboxesQuery;

const SETTLE_POLL_MS = 100;

/**
 * The only service allowed to change sandbox state. Every command runs under the sandbox's lock
 * (serialised across processes sharing Redis) and through the state machine (SandboxDriver).
 */
@Injectable()
export class SandboxService {
  private readonly logger = new Logger(SandboxService.name);
  /** Creates still provisioning in this process, so shutdown can wait for them. */
  private readonly background = new Set<Promise<unknown>>();

  constructor(
    private readonly lifecycleConfig: LifecycleConfig,
    private readonly resourcesConfig: ResourcesConfig,
    private readonly dockerConfig: DockerConfig,
    private readonly store: SandboxMetaStore,
    private readonly lock: SandboxLock,
    private readonly driver: SandboxDriver,
    private readonly metrics: SandboxMetrics,
    private readonly resources: SandboxResources,
    private readonly pool: WarmPool,
    /** Optional only so unit tests that build the service by hand need not pass it. */
    @Optional() private readonly deployment?: DockerDeployment,
    @Optional() private readonly provisioner?: ContainerProvisioner,
  ) {}

  async create(input: CreateSandboxInput, options: CreateOptions): Promise<CreateResult> {
    const spec = toSandboxSpec(input, this.resourcesConfig);
    this.resources.checkCaps(spec);
    // A registry on a private address is refused before a record or an engine call exists.
    await this.deployment?.checkImageSource(spec.image);
    const disk = await this.resources.diskPlan(spec);
    // A matching warm-pool member brings its id: its container already runs under that id.
    const member = this.pool.take(spec);
    const id = member?.sandboxId ?? newSandboxId();
    const now = new Date();
    const info: SandboxInfo = {
      id,
      name: input.name ?? null,
      state: 'pending',
      operation: 'starting',
      image: spec.image,
      cpus: spec.cpus,
      memoryBytes: spec.memoryBytes,
      envKeys: Object.keys(spec.env).sort(),
      labels: spec.labels,
      ports: {},
      host: null,
      containerId: null,
      instanceId: this.dockerConfig.instanceId,
      idleTimeoutSeconds: spec.idleTimeoutSeconds,
      maxLifetimeSeconds: spec.maxLifetimeSeconds,
      autoDeleteSeconds: spec.autoDeleteSeconds,
      protected: input.protected ?? false,
      pidsLimit: spec.pidsLimit,
      runtime: spec.runtime,
      disk,
      logDirQuota: member?.logDirQuota ?? null,
      fromPool: member !== null,
      autoStopAt: null,
      autoDeleteAt: null,
      lastActivityAt: now.toISOString(),
      createdAt: now.toISOString(),
      startedAt: null,
      stoppedAt: null,
      deletedAt: null,
      failureReason: null,
      stateHistory: [],
    };
    info.autoStopAt = autoStopAt(info, now);
    const idempotency =
      options.idempotencyKey === undefined
        ? undefined
        : { key: options.idempotencyKey, fingerprint: fingerprintOf(input) };

    // The lock is taken before the record exists, so no other command can slip in between the
    // insert and the start of provisioning.
    let announce: (result: { record: SandboxRecord; created: boolean }) => void = () => undefined;
    const inserted = new Promise<{ record: SandboxRecord; created: boolean }>((resolve) => {
      announce = resolve;
    });
    // Until its record is inserted, a taken member is unused: a create that ends before (lock,
    // capacity or name refused, Idempotency-Key replay) gives it back as it was.
    let memberUsed = member === null;
    const releaseMember = () => {
      if (memberUsed) return;
      memberUsed = true;
      this.pool.giveBack(member!);
    };
    const run = this.lock.withLock(id, async (signal) => {
      const result = await this.resources.admit(spec, () =>
        this.store.insert({
          info,
          spec,
          machineSnapshot: null,
          machineVersion: MACHINE_VERSION,
          idempotency,
        }),
      );
      if (result.created) memberUsed = true;
      else releaseMember();
      announce(result);
      if (!result.created) return result.record;
      return this.metrics.time('create', async () =>
        this.deleteIfEphemeral(await this.driver.drive(result.record, null, signal), signal),
      );
    });
    void run.catch(releaseMember);
    const refill = () => this.pool.refill(spec);
    void run.then(refill, refill);
    const first = await Promise.race([inserted, run.then(() => inserted)]);

    if (!first.created) {
      run.catch(() => undefined);
      const sandbox = options.wait
        ? await this.waitUntilSettled(first.record.info.id)
        : await this.get(first.record.info.id);
      return { sandbox, created: false };
    }
    if (options.wait) {
      return { sandbox: (await this.awaitWithin(run, id)).info, created: true };
    }
    this.track(run, id);
    return { sandbox: first.record.info, created: true };
  }

  async get(idOrName: string): Promise<SandboxInfo> {
    const info = await this.store.get(idOrName);
    if (!info) throw notFound(idOrName);
    return info;
  }

  /**
   * The env a sandbox was created with (sealed in the DB only, never in the cache or a view),
   * opened; SECRETS_UNREADABLE for this sandbox when the configured key did not seal it.
   */
  async envOf(id: string): Promise<Record<string, string>> {
    const record = await this.store.load(id);
    if (!record) throw notFound(id);
    return this.store.openEnv(record);
  }

  list(query: ListQuery): Promise<SandboxPage> {
    return this.store.list(query);
  }

  async stop(idOrName: string, reason = 'manual'): Promise<SandboxInfo> {
    return this.command(idOrName, { type: 'stop', reason });
  }

  async restart(idOrName: string): Promise<SandboxInfo> {
    const found = await this.store.load(idOrName);
    // Kata removes the sandbox's disk image on stop, so `docker start` cannot bring it back: say
    // so before touching Docker (the seed's guard) instead of failing cryptically in the agent.
    if (found && /kata/i.test(found.info.runtime)) {
      throw new CodedError(
        'RESTART_UNSUPPORTED',
        `sandbox ${found.info.id} runs on ${found.info.runtime}, whose disk image is removed on stop; it cannot be restarted`,
        { sandboxId: found.info.id, runtime: found.info.runtime },
      );
    }
    return this.command(idOrName, { type: 'restart' });
  }

  async delete(idOrName: string, force: boolean): Promise<SandboxInfo> {
    // A forced delete of a starting sandbox cancels its provision (an image pull can take the
    // engine's whole deadline) instead of waiting for it under the lock.
    const found = force ? await this.store.load(idOrName) : null;
    if (found?.info.state === 'pending' && !found.info.protected) {
      this.provisioner?.cancel(found.info.id, 'the sandbox was deleted while it was starting');
    }
    return this.command(idOrName, { type: 'delete', force });
  }

  /** Explicit activity: pushes the idle deadline out. Only live sandboxes have one. */
  async keepAlive(idOrName: string): Promise<SandboxInfo> {
    const id = await this.idOf(idOrName);
    return this.lock.withLock(id, async () => {
      const record = await this.loadOrThrow(id);
      if (!LIVE_STATES.includes(record.info.state)) {
        throw new CodedError(
          'SANDBOX_NOT_RUNNING',
          `sandbox ${id} is ${record.info.state}; only a pending or running sandbox can be kept alive`,
          { sandboxId: id, state: record.info.state },
        );
      }
      return (await this.bump(record)).info;
    });
  }

  /**
   * Implicit activity (exec, files, reads when ACTIVITY_INCLUDES_READS): best effort, never waits
   * behind a running command (which sets the deadlines itself), and skips writes that would move
   * the deadline by less than a second.
   */
  async recordActivity(id: string): Promise<void> {
    try {
      await this.lock.tryWithLock(id, async () => {
        const record = await this.store.load(id);
        if (!record || !LIVE_STATES.includes(record.info.state)) return;
        const next = autoStopAt(record.info, new Date());
        const current = record.info.autoStopAt;
        if (next !== null && current !== null && Date.parse(next) - Date.parse(current) < 1000) {
          return;
        }
        await this.bump(record);
      });
    } catch (error) {
      // Callers fire and forget this: a failed bump must never become an unhandled rejection.
      // The next activity, or the deadline itself, sets things right.
      this.logger.warn(`activity of sandbox ${id} not recorded: ${describeError(error)}`);
    }
  }

  /**
   * Sets or clears protection (no delete of any kind while set) through the machine, which
   * refuses it on a deleted sandbox. Counts as activity.
   */
  async setProtected(idOrName: string, value: boolean): Promise<SandboxInfo> {
    const id = await this.idOf(idOrName);
    return this.lock.withLock(id, async (signal) => {
      const record = await this.loadOrThrow(id);
      const updated = await this.driver.drive(record, { type: 'protect', value }, signal);
      return LIVE_STATES.includes(updated.info.state)
        ? (await this.bump(updated)).info
        : updated.info;
    });
  }

  /**
   * Called under the sandbox's lock after anything that may have stopped it: a sandbox whose
   * effective autoDeleteSeconds is 0 (ephemeral) is deleted as soon as it stops.
   * @param signal the caller's lock signal, aborting the delete if the lock is lost.
   */
  async deleteIfEphemeral(record: SandboxRecord, signal?: AbortSignal): Promise<SandboxRecord> {
    const { info } = record;
    // The machine refuses to delete a protected sandbox; its mirrored flag says so without asking.
    if (info.state !== 'stopped' || info.protected || info.operation !== null) return record;
    const fallback = this.lifecycleConfig.autoDeleteAfterSeconds;
    if (effectiveAutoDeleteSeconds(info, fallback) !== 0) return record;
    return this.driver.drive(record, { type: 'delete', reason: 'auto-delete' }, signal);
  }

  /**
   * Finishes or rolls back operations that a killed process left in flight. Safe to run while
   * other processes work: each sandbox is taken under its lock and re-read first.
   */
  async recoverInterrupted(): Promise<number> {
    const records = await this.store.listWithOperationInFlight();
    let recovered = 0;
    for (const record of records) {
      try {
        await this.lock.withLock(record.info.id, async (signal) => {
          const fresh = await this.store.load(record.info.id);
          if (fresh && fresh.info.operation !== null) {
            this.logger.warn(
              `recovering sandbox ${fresh.info.id}: ${fresh.info.operation} was interrupted`,
            );
            await this.deleteIfEphemeral(await this.driver.drive(fresh, null, signal), signal);
            recovered += 1;
          }
        });
      } catch (error) {
        this.logger.error(`recovery of sandbox ${record.info.id} failed: ${describeError(error)}`);
      }
    }
    return recovered;
  }

  /** Waits for creates still provisioning in this process (graceful shutdown). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.background]);
  }

  private async command(idOrName: string, event: SandboxMachineEvent): Promise<SandboxInfo> {
    const id = await this.idOf(idOrName);
    const record = await this.metrics.time(event.type, () =>
      this.lock.withLock(id, async (signal) => {
        const fresh = await this.loadOrThrow(id);
        // Deleting a deleted sandbox is idempotent: the answer is the same, nothing happens.
        if (event.type === 'delete' && fresh.info.state === 'deleted') return fresh;
        // Protection is the machine's guard: the driver answers SANDBOX_PROTECTED for any delete.
        return this.deleteIfEphemeral(await this.driver.drive(fresh, event, signal), signal);
      }),
    );
    return record.info;
  }

  private async idOf(idOrName: string): Promise<string> {
    const found = await this.store.load(idOrName);
    if (!found) throw notFound(idOrName);
    return found.info.id;
  }

  private async loadOrThrow(id: string): Promise<SandboxRecord> {
    const record = await this.store.load(id);
    if (!record) throw notFound(id);
    return record;
  }

  private async bump(record: SandboxRecord): Promise<SandboxRecord> {
    const now = new Date();
    const deadline = autoStopAt(record.info, now);
    const updated = await this.store.update(
      record.info.id,
      { autoStopAt: deadline, lastActivityAt: now.toISOString() },
      { expectedVersion: record.version },
    );
    return updated;
  }

  private async awaitWithin(run: Promise<SandboxRecord>, id: string): Promise<SandboxRecord> {
    const timeoutMs = this.lifecycleConfig.waitTimeoutSeconds * 1000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    try {
      const result = await Promise.race([run, timeout]);
      if (result) return result;
      this.track(run, id);
      const current = await this.store.load(id);
      if (!current) throw notFound(id);
      return current;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Polls until no operation is in flight (for replays whose provisioning runs elsewhere). */
  private async waitUntilSettled(id: string): Promise<SandboxInfo> {
    const deadline = Date.now() + this.lifecycleConfig.waitTimeoutSeconds * 1000;
    for (;;) {
      const info = await this.get(id);
      if (info.operation === null || Date.now() >= deadline) return info;
      await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
    }
  }

  private track(run: Promise<unknown>, id: string): void {
    const tracked = run
      .catch((error: unknown) =>
        this.logger.error(`provisioning sandbox ${id} failed: ${describeError(error)}`),
      )
      .finally(() => this.background.delete(tracked));
    this.background.add(tracked);
  }
}

function notFound(idOrName: string): CodedError {
  return new CodedError('SANDBOX_NOT_FOUND', `sandbox ${idOrName} does not exist`, {
    sandboxId: idOrName,
  });
}
