import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { addressOfNode, ClusterDirectory, ClusterPlacement, RemoteCreate } from '@app/cluster';
import { DockerConfig, LifecycleConfig, ResourcesConfig } from '@app/config';
import {
  Actor,
  actorSees,
  CodedError,
  describeError,
  eventViewOf,
  SandboxInfo,
  SandboxRecord,
  SandboxSpec,
  scopeTenantOf,
  SYSTEM_ACTOR,
  validationError,
} from '@app/domain';
import { DockerDeployment } from '@app/deployment';
import { ListSandboxesQuery, SandboxMetaStore, SandboxPage } from '@app/meta-store';
import { ContainerProvisioner } from './container-provisioner';
import { CreateSandboxInput, fingerprintOf, toSandboxSpec } from './create-sandbox.input';
import { scopedIdempotencyKey } from './idempotency-scope';
import { autoStopAt } from './deadlines';
import { createdEvent } from './lifecycle-events';
import { SandboxAdmission } from './sandbox-admission';
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
  /**
   * Cluster mode: the node another instance placed this create on (RemoteCreate). Absent for a
   * caller's own create, which placement places.
   */
  placedOn?: string;
}

/** What cluster mode adds to a create: placement and creates on other nodes' instances. */
export interface ClusterCreates {
  readonly enabled: boolean;
  readonly directory: ClusterDirectory;
  readonly placement: ClusterPlacement;
  readonly remote: RemoteCreate;
}

export interface CreateResult {
  sandbox: SandboxInfo;
  /** False when an Idempotency-Key replay returned the sandbox created before. */
  created: boolean;
}

/** The store's list query, passed through as it is. */
export type ListQuery = ListSandboxesQuery;

const SETTLE_POLL_MS = 100;

/** Nest token of the ClusterCreates (provided by SandboxModule from libs/cluster). */
export const CLUSTER_CREATES = 'sandboxd:cluster-creates';

/**
 * The API's door to the sandbox domain: creates, reads, and the commands, which it builds and
 * hands to SandboxCommands (lock → machine → effect → persist → publish), like every other
 * trigger of a change of state.
 *
 * Every method takes the caller's Actor, and every lookup is scoped by it: a tenant actor reaches
 * only its own tenant's sandboxes, by id or by name, and another tenant's is SANDBOX_NOT_FOUND,
 * exactly as if it did not exist (never a 403 that would tell it does). Names are resolved in the
 * caller's namespace: its tenant's, or the tenant-less sandboxes' for the admin (who reaches other
 * tenants' sandboxes by id).
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
    private readonly admission: SandboxAdmission,
    /** Optional only so unit tests that build the service by hand need not pass it. */
    @Optional() private readonly deployment?: DockerDeployment,
    @Optional() private readonly provisioner?: ContainerProvisioner,
    @Optional() @Inject(CLUSTER_CREATES) private readonly cluster?: ClusterCreates,
  ) {}

  async create(
    actor: Actor,
    input: CreateSandboxInput,
    options: CreateOptions,
  ): Promise<CreateResult> {
    const spec = toSandboxSpec(input, this.resourcesConfig);
    this.resources.checkCaps(spec);
    // A create another instance placed here was checked there; this node's engine checks follow.
    if (options.placedOn === undefined) {
      // The extensions' policies, before any record, engine call or pool member is spent.
      await this.admission.check({
        action: 'create',
        actor,
        image: spec.image,
        name: input.name ?? null,
        labels: spec.labels,
        cpus: spec.cpus,
        memoryBytes: spec.memoryBytes,
        runtime: spec.runtime,
      });
      // A registry on a private address is refused before a record or an engine call exists.
      await this.deployment?.checkImageSource(spec.image);
      if (this.cluster?.enabled) return this.placeAndCreate(actor, input, spec, options);
      if (Object.keys(input.placement?.nodeLabels ?? {}).length > 0) {
        throw new CodedError(
          'NO_MATCHING_NODE',
          'placement.nodeLabels needs cluster mode (CLUSTER=swarm): this service runs on one host',
          { field: 'placement.nodeLabels' },
        );
      }
    }
    return this.createHere(actor, input, spec, options);
  }

  /**
   * Cluster mode: the nodes placement ranks, in turn, until one takes the create; here when it is
   * this instance's node, else on that node's instance (RemoteCreate), which runs createHere.
   */
  private async placeAndCreate(
    actor: Actor,
    input: CreateSandboxInput,
    spec: SandboxSpec,
    options: CreateOptions,
  ): Promise<CreateResult> {
    const cluster = this.cluster!;
    const platform = (await this.deployment?.imagePlatform(spec.image)) ?? null;
    const request = {
      cpus: spec.cpus,
      memoryBytes: spec.memoryBytes,
      runtime: spec.runtime,
      nodeLabels: input.placement?.nodeLabels ?? {},
      platform,
    };
    return cluster.placement.place(request, async (node) => {
      if (node.nodeId === cluster.directory.localNodeId) {
        return this.createHere(actor, input, spec, { ...options, placedOn: node.nodeId });
      }
      const address = addressOfNode(node);
      if (address === null) {
        throw new CodedError(
          'NODE_UNAVAILABLE',
          `node ${node.nodeId} has no instance to create on`,
        );
      }
      return cluster.remote.create(address, actor, {
        input,
        idempotencyKey: options.idempotencyKey,
        wait: options.wait,
        node: node.nodeId,
      });
    });
  }

  /** The create on this instance's engine (the only one on a single host). */
  private async createHere(
    actor: Actor,
    input: CreateSandboxInput,
    spec: SandboxSpec,
    options: CreateOptions,
  ): Promise<CreateResult> {
    // The tenant of a tenant key; the admin's and auth-off creates belong to no tenant.
    const tenant = scopeTenantOf(actor);
    const node = this.nodeOfCreate(options);
    await this.resources.checkRuntimeNetwork(spec);
    const disk = await this.resources.diskPlan(spec);
    // A matching warm-pool member brings its id: its container already runs under that id.
    const member = this.pool.take(spec);
    const id = member?.sandboxId ?? newSandboxId();
    const now = new Date();
    const info: SandboxInfo = {
      id,
      name: input.name ?? null,
      tenant,
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
      node,
      idleTimeoutSeconds: spec.idleTimeoutSeconds,
      maxLifetimeSeconds: spec.maxLifetimeSeconds,
      autoDeleteSeconds: spec.autoDeleteSeconds,
      protected: input.protected ?? false,
      pidsLimit: spec.pidsLimit,
      runtime: spec.runtime,
      network: spec.network,
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
        : {
            // Each tenant's keys are its own: another tenant's use of the same key is neither a
            // replay (its sandbox) nor a conflict (that the key was used).
            key: scopedIdempotencyKey(tenant, options.idempotencyKey),
            fingerprint: fingerprintOf(input),
          };

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
      const result = await this.resources.admit(spec, tenant, node, (reservation) =>
        this.store.insert({
          info,
          spec,
          machineSnapshot: null,
          machineVersion: MACHINE_VERSION,
          idempotency,
          events: [createdEvent(info, actor)],
          reservation,
        }),
      );
      this.commands.publish(result.events);
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
        actor,
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
        ? await this.waitUntilSettled(actor, first.record.info.id)
        : await this.get(actor, first.record.info.id);
      return { sandbox, created: false };
    }
    if (options.wait) {
      return { sandbox: (await this.awaitWithin(actor, run, id)).info, created: true };
    }
    this.track(run, id);
    return { sandbox: first.record.info, created: true };
  }

  /**
   * The node a create here lands on: none on a single host; in cluster mode this instance's, and
   * only when placement chose it (a create meant for a node this instance is not on, or while
   * this instance's engine is not a Swarm node, is refused so placement tries the next node).
   */
  private nodeOfCreate(options: CreateOptions): string | null {
    if (!this.cluster?.enabled) return null;
    const local = this.cluster.directory.localNodeId;
    if (local === null || options.placedOn !== local) {
      throw new CodedError(
        'NODE_UNAVAILABLE',
        `this instance (${this.dockerConfig.instanceId}) is not on node ${options.placedOn ?? '(none)'}`,
        { node: options.placedOn ?? null },
      );
    }
    return local;
  }

  /** The sandbox `actor` may see by this id or name, else SANDBOX_NOT_FOUND. */
  async get(actor: Actor, idOrName: string): Promise<SandboxInfo> {
    const info = await this.store.get(idOrName, scopeTenantOf(actor));
    if (!info || !actorSees(actor, info.tenant)) throw notFound(idOrName);
    return info;
  }

  /**
   * The env a sandbox was created with (sealed in the DB only, never in the cache or a view),
   * opened; SECRETS_UNREADABLE for this sandbox when the configured key did not seal it.
   */
  async envOf(actor: Actor, id: string): Promise<Record<string, string>> {
    const record = await this.store.load(id, scopeTenantOf(actor));
    if (!record || !actorSees(actor, record.info.tenant)) throw notFound(id);
    return this.store.openEnv(record);
  }

  /**
   * Whether the engine holds `image` already, without pulling it (E2B's templates may name a
   * local image). RUNTIME_UNAVAILABLE when the engine cannot say.
   */
  async isImagePresent(image: string): Promise<boolean> {
    if (!this.deployment) {
      throw new CodedError('RUNTIME_UNAVAILABLE', 'no container engine is configured');
    }
    return this.deployment.isImagePresent(image);
  }

  /**
   * A page of the sandboxes `actor` may see: a tenant's own only (a `tenant` filter naming another
   * tenant finds nothing), everyone's for the admin, who may filter by `tenant`.
   */
  list(actor: Actor, query: ListQuery): Promise<SandboxPage> {
    const scope = scopeTenantOf(actor);
    if (scope === null) return this.store.list(query);
    if (query.tenant !== undefined && query.tenant !== scope) {
      return Promise.resolve({ items: [], nextCursor: null });
    }
    return this.store.list({ ...query, tenant: scope });
  }

  async stop(actor: Actor, idOrName: string, reason = 'manual'): Promise<SandboxInfo> {
    return this.command(actor, idOrName, { type: 'stop', reason });
  }

  async restart(actor: Actor, idOrName: string): Promise<SandboxInfo> {
    if (this.admission.active) {
      // Asked with the sandbox as it is; the machine still has the last word on the restart.
      const info = await this.get(actor, idOrName);
      await this.admission.check({
        action: 'restart',
        actor,
        image: info.image,
        sandbox: eventViewOf(info),
      });
    }
    return this.command(actor, idOrName, { type: 'restart' });
  }

  async delete(actor: Actor, idOrName: string, force: boolean): Promise<SandboxInfo> {
    // A forced delete of a starting sandbox cancels its provision (an image pull can take the
    // engine's whole deadline) instead of waiting for it under the lock; the delete that follows
    // is the machine's to allow (a protected sandbox is never deleted, so its start goes on).
    // Only of a sandbox the caller may see: the lookup is scoped like every other.
    const found = force ? await this.store.load(idOrName, scopeTenantOf(actor)) : null;
    if (
      found &&
      actorSees(actor, found.info.tenant) &&
      stateHasTag(found.info, 'starting') &&
      !isProtected(found.info)
    ) {
      this.provisioner?.cancel(found.info.id, 'the sandbox was deleted while it was starting');
    }
    return this.command(actor, idOrName, { type: 'delete', force });
  }

  /** Explicit activity: pushes the idle deadline out. Only live sandboxes have one. */
  async keepAlive(actor: Actor, idOrName: string): Promise<SandboxInfo> {
    const id = await this.idOf(actor, idOrName);
    const record = await this.commands.record({
      sandboxId: id,
      actor,
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
  async setMaxLifetime(actor: Actor, idOrName: string, seconds: number): Promise<SandboxInfo> {
    if (!Number.isInteger(seconds) || seconds < 1) {
      throw validationError('maxLifetimeSeconds', 'must be a whole number of seconds, at least 1');
    }
    const id = await this.idOf(actor, idOrName);
    const record = await this.commands.record({
      sandboxId: id,
      actor,
      lock: 'wait',
      activity: { required: true, maxLifetimeSeconds: seconds },
    });
    return record.info;
  }

  /**
   * Implicit activity (exec, files, reads when ACTIVITY_INCLUDES_READS): best effort, never waits
   * behind a running command (which sets the deadlines itself), and skips writes that would move
   * the deadline by less than a second. Of a sandbox the actor may see, like any command.
   */
  async recordActivity(actor: Actor, id: string): Promise<void> {
    try {
      await this.commands.run({
        sandboxId: id,
        actor,
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
  async setProtected(actor: Actor, idOrName: string, value: boolean): Promise<SandboxInfo> {
    const id = await this.idOf(actor, idOrName);
    const record = await this.commands.record({
      sandboxId: id,
      actor,
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
          actor: SYSTEM_ACTOR,
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

  private async command(
    actor: Actor,
    idOrName: string,
    event: SandboxMachineEvent,
  ): Promise<SandboxInfo> {
    const id = await this.idOf(actor, idOrName);
    const record = await this.metrics.time(event.type, () =>
      this.commands.record({ sandboxId: id, actor, lock: 'wait', event }),
    );
    return record.info;
  }

  private async idOf(actor: Actor, idOrName: string): Promise<string> {
    // An id needs no lookup: the pipeline loads the record under the lock anyway, within the
    // actor's scope, and answers SANDBOX_NOT_FOUND there when there is none it may see. Only a
    // name is resolved first, in the actor's namespace.
    if (isSandboxIdShaped(idOrName)) return idOrName;
    const found = await this.store.load(idOrName, scopeTenantOf(actor));
    if (!found || !actorSees(actor, found.info.tenant)) throw notFound(idOrName);
    return found.info.id;
  }

  private async awaitWithin(
    actor: Actor,
    run: Promise<SandboxRecord>,
    id: string,
  ): Promise<SandboxRecord> {
    const timeoutMs = this.lifecycleConfig.waitTimeoutSeconds * 1000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    try {
      const result = await Promise.race([run, timeout]);
      if (result) return result;
      this.track(run, id);
      const current = await this.store.load(id, scopeTenantOf(actor));
      if (!current || !actorSees(actor, current.info.tenant)) throw notFound(id);
      return current;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Polls until no operation is in flight (for replays whose provisioning runs elsewhere). */
  private async waitUntilSettled(actor: Actor, id: string): Promise<SandboxInfo> {
    const deadline = Date.now() + this.lifecycleConfig.waitTimeoutSeconds * 1000;
    for (;;) {
      const info = await this.get(actor, id);
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
