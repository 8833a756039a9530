import { randomBytes } from 'node:crypto';
import { SecretsKey } from '@app/config';
import {
  CodedError,
  LIVE_STATES,
  NO_TENANT_LIMITS,
  SandboxEventRecord,
  SandboxInfo,
  SandboxRecord,
  TenantLimits,
  pickSandboxInfoFields,
} from '@app/domain';
import type { ContainerSpec, ContainerState, DockerDeployment, EngineFacts } from '@app/deployment';
import type { QuotaService } from '@app/quota';
import {
  SandboxLock,
  SandboxMetaStore,
  cpuNanosOf,
  SecretsKeyring,
  StoredTenantLimits,
  TenantLimitsStore,
  VersionedWriteOptions,
} from '@app/meta-store';
import type { ResourceReservation } from '@app/meta-store';

/** A keyring of a random key, as the fakes and the effects of one unit test share it. */
export function fakeKeyring(): SecretsKeyring {
  return new SecretsKeyring(SecretsKey.fromBytes(randomBytes(32)), 'a test key');
}

type StoreMethods =
  | 'insert'
  | 'openEnv'
  | 'load'
  | 'update'
  | 'archiveCache'
  | 'restoreCache'
  | 'get'
  | 'list'
  | 'listWithOperationInFlight'
  | 'committedResources'
  | 'tenantUsage';

/**
 * An in-memory stand-in for SandboxMetaStore, for unit tests of the sandbox library's logic. It
 * keeps the contract that matters to the service (versions, cache only for live states) and
 * records the cache calls so tests can check when the service archives and restores.
 */
export class FakeMetaStore implements Pick<SandboxMetaStore, StoreMethods> {
  readonly records = new Map<string, SandboxRecord>();
  readonly cache = new Map<string, Partial<SandboxInfo>>();
  readonly calls: string[] = [];
  /** The event log: what each write committed, with ids in order. */
  readonly events: SandboxEventRecord[] = [];

  /** Seals like the real store does, so code that needs env must open it. */
  constructor(readonly keyring: SecretsKeyring = fakeKeyring()) {}

  openEnv(record: SandboxRecord) {
    return this.keyring.openEnv(record.info.id, record.spec.sealedEnv);
  }

  insert(input: Parameters<SandboxMetaStore['insert']>[0]) {
    if (input.reservation !== undefined) this.reserve(input.info, input.reservation);
    const record: SandboxRecord = {
      info: input.info,
      spec: this.keyring.sealSpec(input.info.id, input.spec),
      machineSnapshot: input.machineSnapshot,
      machineVersion: input.machineVersion,
      version: 1,
    };
    this.records.set(input.info.id, structuredClone(record));
    this.cache.set(input.info.id, pickSandboxInfoFields(input.info));
    const events = (input.events ?? []).map((event) => this.logged(event));
    return Promise.resolve({ record, created: true, events });
  }

  /** Scoped like the real store: a tenant scope finds only its own, names per namespace. */
  load(idOrName: string, scope: string | null = null) {
    const byId = this.records.get(idOrName);
    const record =
      (byId && (scope === null || byId.info.tenant === scope) ? byId : undefined) ??
      [...this.records.values()].find(
        (r) => r.info.name === idOrName && r.info.state !== 'deleted' && r.info.tenant === scope,
      );
    return Promise.resolve(record ? structuredClone(record) : null);
  }

  update(id: string, patch: Partial<SandboxInfo>, opts: VersionedWriteOptions) {
    this.calls.push('update');
    const record = this.write(id, patch, opts);
    if (LIVE_STATES.includes(record.info.state)) {
      this.cache.set(id, {
        ...(this.cache.get(id) ?? record.info),
        ...pickSandboxInfoFields(patch),
      });
    }
    return Promise.resolve(structuredClone(record));
  }

  archiveCache(id: string, patch: Partial<SandboxInfo>, opts: VersionedWriteOptions) {
    this.calls.push('archiveCache');
    const record = this.write(id, patch, opts);
    this.cache.delete(id);
    return Promise.resolve(structuredClone(record));
  }

  restoreCache(id: string) {
    this.calls.push('restoreCache');
    const record = this.records.get(id);
    if (record) this.cache.set(id, pickSandboxInfoFields(record.info));
    return Promise.resolve();
  }

  get(idOrName: string, scope: string | null = null) {
    const cached = this.cache.get(idOrName);
    if (cached && (scope === null || cached.tenant === scope)) {
      return Promise.resolve(cached as SandboxInfo);
    }
    return this.load(idOrName, scope).then((r) => (r ? r.info : null));
  }

  list() {
    return Promise.resolve({
      items: [...this.records.values()].map((r) => r.info),
      nextCursor: null,
    });
  }

  committedResources() {
    const live = [...this.records.values()].filter((r) => LIVE_STATES.includes(r.info.state));
    return Promise.resolve({
      sandboxes: live.length,
      cpus: live.reduce((sum, r) => sum + (r.info.cpus ?? 0), 0),
      memoryBytes: live.reduce((sum, r) => sum + (r.info.memoryBytes ?? 0), 0),
    });
  }

  tenantUsage(tenant: string) {
    const held = [...this.records.values()].filter(
      (r) => r.info.tenant === tenant && r.info.state !== 'deleted',
    );
    return Promise.resolve({
      sandboxes: held.length,
      liveSandboxes: held.filter((r) => LIVE_STATES.includes(r.info.state)).length,
      cpus: held.reduce((sum, r) => sum + (r.info.cpus ?? 0), 0),
      memoryBytes: held.reduce((sum, r) => sum + (r.info.memoryBytes ?? 0), 0),
    });
  }

  /** Refuses like the store's conditional UPDATEs of its usage counters (see reserveUsage). */
  private reserve(info: SandboxInfo, reservation: ResourceReservation): void {
    const nanos = (cpus: number | null) => cpuNanosOf(cpus);
    const held = (records: SandboxRecord[]) => ({
      sandboxes: records.length,
      cpuNanos: records.reduce((sum, r) => sum + nanos(r.info.cpus), 0),
      memoryBytes: records.reduce((sum, r) => sum + (r.info.memoryBytes ?? 0), 0),
    });
    const all = [...this.records.values()];
    if (LIVE_STATES.includes(info.state)) {
      const host = held(all.filter((r) => LIVE_STATES.includes(r.info.state)));
      if (
        host.cpuNanos + nanos(info.cpus) > reservation.host.cpuNanos ||
        host.memoryBytes + (info.memoryBytes ?? 0) > reservation.host.memoryBytes
      ) {
        throw new CodedError('INSUFFICIENT_CAPACITY', 'not enough capacity', { scope: 'host' });
      }
    }
    const limits = reservation.tenant ?? null;
    if (info.tenant === null || limits === null) return;
    const usage = held(
      all.filter((r) => r.info.tenant === info.tenant && r.info.state !== 'deleted'),
    );
    const over = (max: number | null, value: number) => max !== null && value > max;
    if (
      over(limits.maxSandboxes, usage.sandboxes + 1) ||
      over(limits.maxCpuNanos, usage.cpuNanos + nanos(info.cpus)) ||
      over(limits.maxMemoryBytes, usage.memoryBytes + (info.memoryBytes ?? 0))
    ) {
      throw new CodedError('TENANT_QUOTA_EXCEEDED', 'over the tenant limits', {
        scope: `tenant:${info.tenant}`,
      });
    }
  }

  listWithOperationInFlight() {
    return Promise.resolve(
      [...this.records.values()]
        .filter((r) => r.info.operation !== null)
        .map((r) => structuredClone(r)),
    );
  }

  private logged(event: Omit<SandboxEventRecord, 'id'>): SandboxEventRecord {
    const record = { id: String(this.events.length + 1), ...event };
    this.events.push(record);
    return record;
  }

  private write(
    id: string,
    patch: Partial<SandboxInfo>,
    opts: VersionedWriteOptions,
  ): SandboxRecord {
    const record = this.records.get(id);
    if (!record) throw new Error(`no record ${id}`);
    if (record.version !== opts.expectedVersion) {
      throw new CodedError('CONCURRENT_MODIFICATION', `version moved on for ${id}`);
    }
    record.info = { ...record.info, ...pickSandboxInfoFields(patch) };
    if (opts.machineSnapshot !== undefined)
      record.machineSnapshot = structuredClone(opts.machineSnapshot);
    record.version += 1;
    const events = (opts.events?.(record.info) ?? []).map((event) => this.logged(event));
    if (events.length > 0) opts.onCommitted?.(events);
    return record;
  }
}

/** Tenant limits in a Map. */
export class FakeTenantLimits implements Pick<TenantLimitsStore, 'get' | 'set'> {
  readonly limits = new Map<string, TenantLimits>();

  get(tenant: string): Promise<StoredTenantLimits> {
    const limits = this.limits.get(tenant);
    return Promise.resolve({
      limits: { ...(limits ?? NO_TENANT_LIMITS) },
      updatedAt: limits ? new Date().toISOString() : null,
    });
  }

  set(tenant: string, change: Partial<TenantLimits>): Promise<StoredTenantLimits> {
    this.limits.set(tenant, { ...(this.limits.get(tenant) ?? NO_TENANT_LIMITS), ...change });
    return this.get(tenant);
  }
}

/** Per-key locks that serialise within the test process (enough for logic tests). */
export class FakeLock implements Pick<SandboxLock, 'withLock' | 'tryWithLock'> {
  private readonly tails = new Map<string, Promise<unknown>>();
  private readonly held = new Set<string>();

  async tryWithLock<T>(
    id: string,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<{ acquired: true; value: T } | { acquired: false }> {
    if (this.held.has(id)) return { acquired: false };
    return { acquired: true, value: await this.withLock(id, fn) };
  }

  withLock<T>(id: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const run = (this.tails.get(id) ?? Promise.resolve()).then(async () => {
      this.held.add(id);
      try {
        return await fn(new AbortController().signal);
      } finally {
        this.held.delete(id);
      }
    });
    this.tails.set(
      id,
      run.catch(() => undefined),
    );
    return run;
  }
}

type DeploymentMethods = 'provision' | 'start' | 'stop' | 'remove' | 'inspect' | 'containerName';

/** Verbs the fake records in `calls`; joinSandboxNetwork is kept apart, in `joined`. */

/** A Docker engine in a Map; `failNext` makes the next call of a verb throw. */
export class FakeDeployment implements Pick<
  DockerDeployment,
  DeploymentMethods | 'joinSandboxNetwork'
> {
  readonly containers = new Map<string, ContainerState>();
  readonly calls: string[] = [];
  /** Containers joinSandboxNetwork was asked about, in order (not counted in `calls`). */
  readonly joined: string[] = [];
  /** The env each provisioned container was given, by sandbox id. */
  readonly envs = new Map<string, Record<string, string>>();
  private readonly failures = new Map<string, Error>();

  failNext(verb: DeploymentMethods, error: Error): void {
    this.failures.set(verb, error);
  }

  containerName(sandboxId: string): string {
    return `sandboxd-${sandboxId}`;
  }

  provision(spec: ContainerSpec) {
    return this.act('provision', () => {
      this.envs.set(spec.sandboxId, spec.env);
      const name = this.containerName(spec.sandboxId);
      const existing = [...this.containers.values()].find((c) => c.name === name);
      const state: ContainerState = existing ?? {
        containerId: `cid-${spec.sandboxId}`,
        name,
        running: true,
        status: 'running',
        exitCode: null,
        oomKilled: false,
        startedAt: new Date().toISOString(),
        finishedAt: null,
        ports: Object.fromEntries(spec.ports.map((p, i) => [String(p), 30000 + i])),
        host: '127.0.0.1',
        labels: {},
        sandboxId: spec.sandboxId,
        instanceId: 'test',
      };
      this.containers.set(state.containerId, { ...state, running: true, status: 'running' });
      return state;
    });
  }

  start(containerId: string) {
    return this.act('start', () => this.set(containerId, true));
  }

  joinSandboxNetwork(state: ContainerState) {
    this.joined.push(state.containerId);
    return Promise.resolve();
  }

  stop(containerId: string) {
    return this.act('stop', () => {
      const found = this.find(containerId);
      if (!found) return 'missing' as const;
      this.set(found.containerId, false);
      return 'stopped' as const;
    });
  }

  remove(containerId: string) {
    return this.act('remove', () => {
      const found = this.find(containerId);
      if (found) this.containers.delete(found.containerId);
    });
  }

  inspect(idOrName: string) {
    return this.act('inspect', () => this.find(idOrName) ?? null);
  }

  private find(idOrName: string): ContainerState | undefined {
    return (
      this.containers.get(idOrName) ??
      [...this.containers.values()].find((c) => c.name === idOrName)
    );
  }

  private set(containerId: string, running: boolean): ContainerState {
    const found = this.find(containerId);
    if (!found) throw new CodedError('CONTAINER_FAILED', `no container ${containerId}`);
    const next = { ...found, running, status: running ? 'running' : 'exited' };
    this.containers.set(found.containerId, next);
    return next;
  }

  private act<T>(verb: DeploymentMethods, run: () => T): Promise<T> {
    this.calls.push(verb);
    const failure = this.failures.get(verb);
    if (failure) {
      this.failures.delete(verb);
      return Promise.reject(failure);
    }
    try {
      return Promise.resolve(run());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

/** An engine with a fixed capacity and no overlay upper dirs. */
export class FakeEngine implements Pick<
  EngineFacts,
  'capacity' | 'upperDir' | 'storageInfo' | 'runtimeArgs'
> {
  constructor(
    private readonly cpus = 8,
    private readonly memoryBytes = 16 * 1024 ** 3,
    /** Runtimes the engine has registered, with their arguments (runc needs no entry). */
    private readonly runtimes: Readonly<Record<string, readonly string[]>> = {},
  ) {}

  runtimeArgs(runtime: string) {
    return Promise.resolve(this.runtimes[runtime] ?? null);
  }

  capacity() {
    return Promise.resolve({ cpus: this.cpus, memoryBytes: this.memoryBytes });
  }

  upperDir() {
    return Promise.resolve(null);
  }

  storageInfo() {
    return Promise.resolve({ Driver: 'overlay2', DriverStatus: [['Backing Filesystem', 'extfs']] });
  }
}

/** Quota steps that touch no file system. */
export class FakeQuota implements Pick<
  QuotaService,
  | 'ensureLogDir'
  | 'removeLogDir'
  | 'shareWithLogDir'
  | 'detectStorageOptSupport'
  | 'secureLogDir'
  | 'secureLogRoot'
> {
  secureLogDir() {
    return Promise.resolve();
  }

  secureLogRoot() {
    return Promise.resolve(null);
  }

  ensureLogDir(root: string, sandboxId: string) {
    return Promise.resolve(`${root}/${sandboxId}`);
  }

  removeLogDir() {
    return Promise.resolve();
  }

  shareWithLogDir() {
    return Promise.resolve({ shared: false as const, reason: 'fake quota' });
  }

  detectStorageOptSupport() {
    return Promise.resolve({ supported: false, reason: 'fake engine' });
  }
}
