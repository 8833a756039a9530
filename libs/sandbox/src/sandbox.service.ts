import { Injectable, Logger, Optional } from '@nestjs/common';
import { DockerConfig, LifecycleConfig, ResourcesConfig } from '@app/config';
import { describeError, SandboxInfo, SandboxRecord, validationError } from '@app/domain';
import { DockerDeployment } from '@app/deployment';
import { ListSandboxesQuery, SandboxMetaStore, SandboxPage } from '@app/meta-store';
import { ContainerProvisioner } from './container-provisioner';
import { CreateSandboxInput, fingerprintOf, toSandboxSpec } from './create-sandbox.input';
import { autoStopAt } from './deadlines';
import { isSandboxIdShaped, newSandboxId } from './sandbox-id';
import { notFound, SandboxCommands } from './sandbox-commands';
import { SandboxMetrics } from './sandbox-metrics';
import { SandboxResources } from './sandbox-resources';
import { isProtected, MACHINE_VERSION, SandboxMachineEvent, stateHasTag } from './sandbox.machine';
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
 * The API's door to the sandbox domain: creates, reads, and the commands, which it builds and
 * hands to SandboxCommands (lock → machine → effect → persist → publish), like every other
 * trigger of a change of state.
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
    private readonly commands: SandboxCommands,
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
    let existing: SandboxRecord | null = null;
    // The pipeline's load is the insert: the machine's first step (the create effect) follows.
    const insert = async (): Promise<SandboxRecord | null> => {
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
      if (!result.created) existing = result.record;
      return result.created ? result.record : null;
    };
    // Timed and counted on the record it ends with (a failed start is a failed create).
    const run = this.metrics.time('create', async () => {
      const outcome = await this.commands.run({
        sandboxId: id,
        lock: 'wait',
        event: null,
        load: insert,
      });
      if (outcome.outcome === 'busy' || outcome.record === null) return existing!;
      return outcome.record;
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
    return this.command(idOrName, { type: 'restart' });
  }

  async delete(idOrName: string, force: boolean): Promise<SandboxInfo> {
    // A forced delete of a starting sandbox cancels its provision (an image pull can take the
    // engine's whole deadline) instead of waiting for it under the lock; the delete that follows
    // is the machine's to allow (a protected sandbox is never deleted, so its start goes on).
    const found = force ? await this.store.load(idOrName) : null;
    if (found && stateHasTag(found.info, 'starting') && !isProtected(found.info)) {
      this.provisioner?.cancel(found.info.id, 'the sandbox was deleted while it was starting');
    }
    return this.command(idOrName, { type: 'delete', force });
  }

  /** Explicit activity: pushes the idle deadline out. Only live sandboxes have one. */
  async keepAlive(idOrName: string): Promise<SandboxInfo> {
    const id = await this.idOf(idOrName);
    const record = await this.commands.record({
      sandboxId: id,
      lock: 'wait',
      activity: { required: true },
    });
    return record.info;
  }

  /**
   * Gives a live sandbox a new max lifetime, counted from its start (E2B's setTimeout moves the
   * end of life to now + timeout); counts as activity. A sandbox that is not live has no deadline
   * to move: SANDBOX_NOT_RUNNING.
   */
  async setMaxLifetime(idOrName: string, seconds: number): Promise<SandboxInfo> {
    if (!Number.isInteger(seconds) || seconds < 1) {
      throw validationError('maxLifetimeSeconds', 'must be a whole number of seconds, at least 1');
    }
    const id = await this.idOf(idOrName);
    const record = await this.commands.record({
      sandboxId: id,
      lock: 'wait',
      activity: { required: true, maxLifetimeSeconds: seconds },
    });
    return record.info;
  }

  /**
   * Implicit activity (exec, files, reads when ACTIVITY_INCLUDES_READS): best effort, never waits
   * behind a running command (which sets the deadlines itself), and skips writes that would move
   * the deadline by less than a second.
   */
  async recordActivity(id: string): Promise<void> {
    try {
      await this.commands.run({
        sandboxId: id,
        lock: 'try',
        refusals: 'skip',
        activity: { minMoveMs: 1000 },
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
    const record = await this.commands.record({
      sandboxId: id,
      lock: 'wait',
      event: { type: 'protect', value },
      activity: {},
    });
    return record.info;
  }

  /**
   * Finishes or rolls back operations that a killed process left in flight. Safe to run while
   * other processes work: each sandbox is taken under its lock and re-read first.
   */
  async recoverInterrupted(): Promise<number> {
    const records = await this.store.listWithOperationInFlight();
    let recovered = 0;
    for (const record of records) {
      const id = record.info.id;
      try {
        const outcome = await this.commands.run({
          sandboxId: id,
          lock: 'wait',
          event: null,
          refusals: 'skip',
        });
        if (outcome.outcome === 'done') {
          this.logger.warn(`recovered sandbox ${id}: ${record.info.operation} was interrupted`);
          recovered += 1;
        }
      } catch (error) {
        this.logger.error(`recovery of sandbox ${id} failed: ${describeError(error)}`);
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
      this.commands.record({ sandboxId: id, lock: 'wait', event }),
    );
    return record.info;
  }

  private async idOf(idOrName: string): Promise<string> {
    // An id needs no lookup: the pipeline loads the record under the lock anyway, and answers
    // SANDBOX_NOT_FOUND there when there is none. Only a name is resolved first.
    if (isSandboxIdShaped(idOrName)) return idOrName;
    const found = await this.store.load(idOrName);
    if (!found) throw notFound(idOrName);
    return found.info.id;
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
      if (!stateHasTag(info, 'busy') || Date.now() >= deadline) return info;
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
