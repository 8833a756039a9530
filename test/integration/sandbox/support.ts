import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MODULE_METADATA } from '@nestjs/common/constants';
import type { Provider, Type } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { Test, TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { configProviders, type ConfigSlices, loadConfig } from '@app/config';
import { ClusterDirectory, ClusterPlacement, RemoteCreate } from '@app/cluster';
import {
  ContainerSpec,
  ContainerState,
  DockerDeployment,
  EngineFacts,
  SwarmFacts,
} from '@app/deployment';
import {
  ClusterNodeStore,
  KeyValueStore,
  MemoryKeyValueStore,
  SandboxLock,
  SandboxMetaStore,
  SecretsKeyring,
  TaskLock,
  TenantLimitsStore,
  buildDataSourceOptions,
  initializeDataSource,
  SandboxEventLog,
  WebhookStore,
} from '@app/meta-store';
import { ANONYMOUS_ACTOR, Actor, SandboxInfo } from '@app/domain';
import { QuotaService } from '@app/quota';
import {
  CreateSandboxInput,
  SandboxAutomation,
  SandboxModule,
  SandboxReconciler,
  SandboxResources,
  SandboxService,
  SandboxWorkService,
  TenantService,
} from '@app/sandbox';
import { EventRetention, LifecycleScheduler } from '@app/scheduler';
import { testKeyring } from '../../../libs/meta-store/src/testing/sandbox-fixtures';
import { createScratchDatabase } from '../../support/database';
import { strictMock } from '../../support/strict-mock';

/**
 * Medium-size harness for the sandbox domain: the real SandboxModule classes (read from the
 * module's own provider list, so a new provider is picked up without touching this file), on
 * the real in-process store (SandboxMetaStore over SQLite in a temp dir, MemoryKeyValueStore,
 * SandboxLock, TaskLock). Only Docker (DockerDeployment, EngineFacts) and XFS (QuotaService) are
 * fakes: strict automocks of the real classes, so any call a test did not stub fails loudly.
 */

/**
 * The durable part of "the store": one database, shareable by several harnesses. SQLite unless
 * made by postgresBacking.
 */
export interface SqliteBacking {
  dataSource: DataSource;
  /** The SQLite file (a PostgreSQL backing names a file that is never opened). */
  path: string;
  close(): Promise<void>;
}

/**
 * A scratch PostgreSQL database (TEST_DATABASE_URL's server), migrated, shareable like a SQLite
 * backing: for what must hold on PostgreSQL too (its concurrency is real, not SQLite's one
 * connection). Pair it with a RedisKeyValueStore so harnesses share their locks as replicas do.
 */
export async function postgresBacking(label: string): Promise<SqliteBacking> {
  const scratch = await createScratchDatabase(label);
  const dataSource = await initializeDataSource(
    buildDataSourceOptions(loadConfig({ DATABASE_URL: scratch.url }).store, testKeyring()),
  );
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-int-pg-'));
  return {
    dataSource,
    path: join(dir, 'unused.sqlite'),
    close: async () => {
      await dataSource.destroy();
      rmSync(dir, { recursive: true, force: true });
      await scratch.drop();
    },
  };
}

export async function sqliteBacking(): Promise<SqliteBacking> {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-int-'));
  const path = join(dir, 'sandboxd.sqlite');
  const dataSource = await initializeDataSource(
    buildDataSourceOptions(loadConfig({ SQLITE_PATH: path }).store, testKeyring()),
  );
  return {
    dataSource,
    path,
    close: async () => {
      await dataSource.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface HarnessOptions {
  /** Environment overrides, as the process would read them. */
  env?: Record<string, string>;
  /** Share another harness's database (a second process on the same store). */
  backing?: SqliteBacking;
  /** Share another harness's key-value store; a fresh one is a process whose cache was lost. */
  kv?: KeyValueStore;
  /** Also boot the LifecycleScheduler (with a real SchedulerRegistry). */
  scheduler?: boolean;
}

export interface Harness {
  moduleRef: TestingModule;
  config: ConfigSlices;
  backing: SqliteBacking;
  kv: KeyValueStore;
  store: SandboxMetaStore;
  lock: SandboxLock;
  tasks: TaskLock;
  sandboxes: SandboxService;
  work: SandboxWorkService;
  tenants: TenantService;
  limits: TenantLimitsStore;
  automation: SandboxAutomation;
  reconciler: SandboxReconciler;
  resources: SandboxResources;
  deployment: jest.Mocked<DockerDeployment>;
  engine: jest.Mocked<EngineFacts>;
  quota: jest.Mocked<QuotaService>;
  /** Creates a sandbox through the real create path (as `actor`: anonymous) and waits until it runs. */
  createRunning(input?: Partial<CreateSandboxInput>, actor?: Actor): Promise<SandboxInfo>;
  /** The record as the database holds it now. */
  info(id: string): Promise<SandboxInfo>;
  close(): Promise<void>;
}

/** What the mocked engine reports for this host unless a test says otherwise. */
export const HOST = { cpus: 16, memoryBytes: 64 * 1024 ** 3 };

export async function bootHarness(options: HarnessOptions = {}): Promise<Harness> {
  const backing = options.backing ?? (await sqliteBacking());
  const kv = options.kv ?? new MemoryKeyValueStore();
  const config = loadConfig({
    SQLITE_PATH: backing.path,
    INSTANCE_ID: `int-${randomBytes(3).toString('hex')}`,
    LOG_ROOT: '/nonexistent/sandboxd-int-logs', // QuotaService is mocked: never touched
    SCHEDULER_ENABLED: 'false',
    DOCKER_EVENTS: 'false',
    ...options.env,
  });
  const deployment = strictMock(DockerDeployment);
  const engine = strictMock(EngineFacts);
  const quota = strictMock(QuotaService);
  happyDocker(deployment, engine, quota, config);
  const fakes = new Map<unknown, unknown>([
    [DockerDeployment, deployment],
    [EngineFacts, engine],
    [QuotaService, quota],
    [SwarmFacts, strictMock(SwarmFacts)],
  ]);

  const sandboxProviders = Reflect.getMetadata(MODULE_METADATA.PROVIDERS, SandboxModule) as
    Provider[] | undefined;
  if (!sandboxProviders) throw new Error('SandboxModule declares no providers');
  const keyring = testKeyring();
  const providers: Provider[] = [
    ...sandboxProviders,
    ...configProviders(config),
    { provide: KeyValueStore, useValue: kv },
    { provide: SecretsKeyring, useValue: keyring },
    {
      provide: SandboxMetaStore,
      inject: [KeyValueStore],
      useFactory: (store: KeyValueStore) =>
        new SandboxMetaStore(backing.dataSource, store, keyring),
    },
    { provide: TenantLimitsStore, useValue: new TenantLimitsStore(backing.dataSource) },
    // Cluster mode's own (off unless a test's env turns it on; then the Swarm is a fake's).
    { provide: ClusterNodeStore, useValue: new ClusterNodeStore(backing.dataSource) },
    ClusterDirectory,
    ClusterPlacement,
    RemoteCreate,
    { provide: SandboxEventLog, useValue: new SandboxEventLog(backing.dataSource) },
    SandboxLock,
    TaskLock,
    ...(options.scheduler
      ? [
          SchedulerRegistry,
          LifecycleScheduler,
          EventRetention,
          { provide: WebhookStore, useValue: new WebhookStore(backing.dataSource, keyring) },
        ]
      : []),
  ];
  const moduleRef = await Test.createTestingModule({ providers })
    .useMocker((token) => {
      if (fakes.has(token)) return fakes.get(token);
      // Only Docker and XFS may be fake: anything else missing is a harness bug, said plainly.
      throw new Error(`sandbox harness: no real provider and no fake for ${nameOf(token)}`);
    })
    .compile();
  await moduleRef.init();

  const store = moduleRef.get(SandboxMetaStore);
  return {
    moduleRef,
    config,
    backing,
    kv,
    store,
    lock: moduleRef.get(SandboxLock),
    tasks: moduleRef.get(TaskLock),
    sandboxes: moduleRef.get(SandboxService),
    work: moduleRef.get(SandboxWorkService),
    tenants: moduleRef.get(TenantService),
    limits: moduleRef.get(TenantLimitsStore),
    automation: moduleRef.get(SandboxAutomation),
    reconciler: moduleRef.get(SandboxReconciler),
    resources: moduleRef.get(SandboxResources),
    deployment,
    engine,
    quota,
    createRunning: async (input = {}, actor = ANONYMOUS_ACTOR) => {
      const { sandbox } = await moduleRef
        .get(SandboxService)
        .create(actor, { image: 'sandboxd/demo:latest', ...input }, { wait: true });
      if (sandbox.state !== 'running') {
        throw new Error(`sandbox ${sandbox.id} is ${sandbox.state}: ${sandbox.failureReason}`);
      }
      return sandbox;
    },
    info: async (id) => {
      const record = await store.load(id);
      if (!record) throw new Error(`no record for ${id}`);
      return record.info;
    },
    close: async () => {
      await moduleRef.close();
      if (!options.backing) await backing.close();
    },
  };
}

/**
 * The container every provision of this harness makes: running, named and labelled as Docker
 * would. `containerIdOf` gives a sandbox's container id without asking the store.
 */
export function containerIdOf(sandboxId: string): string {
  return `ctr-${sandboxId}`;
}

export function containerState(
  sandboxId: string | null,
  overrides: Partial<ContainerState> = {},
): ContainerState {
  return {
    containerId: sandboxId ? containerIdOf(sandboxId) : `ctr-${randomBytes(4).toString('hex')}`,
    name: sandboxId ? `sandboxd-${sandboxId}` : 'sandboxd-unknown',
    running: true,
    status: 'running',
    exitCode: null,
    oomKilled: false,
    createdAt: new Date().toISOString(),
    startedAt: new Date().toISOString(),
    finishedAt: null,
    ports: {},
    host: '127.0.0.1',
    labels: {},
    sandboxId,
    instanceId: null,
    poolKey: null,
    ...overrides,
  };
}

/** A container that ran and exited with `exitCode`. */
export function exitedState(
  sandboxId: string,
  exitCode: number,
  oomKilled = false,
): ContainerState {
  return containerState(sandboxId, {
    running: false,
    status: 'exited',
    exitCode,
    oomKilled,
    finishedAt: new Date().toISOString(),
  });
}

/**
 * Stubs for the calls every lifecycle makes on a healthy engine: creates succeed (a running
 * container per sandbox), stops and removes succeed, the log dir steps succeed. Everything else
 * (inspect, listOwned, exec, files, ...) stays strict until a test stubs it.
 */
function happyDocker(
  deployment: jest.Mocked<DockerDeployment>,
  engine: jest.Mocked<EngineFacts>,
  quota: jest.Mocked<QuotaService>,
  config: ConfigSlices,
): void {
  deployment.containerName.mockImplementation((id) => `sandboxd-${id}`);
  deployment.checkImageSource.mockResolvedValue(undefined);
  deployment.provision.mockImplementation((spec: ContainerSpec) =>
    Promise.resolve(containerState(spec.sandboxId, { instanceId: config.docker.instanceId })),
  );
  deployment.stop.mockResolvedValue('stopped');
  deployment.joinSandboxNetwork.mockResolvedValue(undefined);
  deployment.remove.mockResolvedValue(undefined);
  engine.capacity.mockResolvedValue(HOST);
  quota.secureLogRoot.mockResolvedValue(null);
  quota.ensureLogDir.mockImplementation((root, id) => Promise.resolve(`${root}/${id}`));
  quota.secureLogDir.mockResolvedValue(undefined);
  quota.removeLogDir.mockResolvedValue(undefined);
}

function nameOf(token: unknown): string {
  if (typeof token === 'function') return (token as Type).name;
  return String(token);
}

/**
 * The first argument of every call of a mocked method, in order: which container (or sandbox)
 * Docker was asked about. Later arguments (timeouts, signals) are the adapter's business.
 */
export function targets<A extends unknown[]>(mock: jest.MockInstance<unknown, A>): A[0][] {
  return mock.mock.calls.map((args) => args[0]);
}

/**
 * Polls `check` until it returns a value, without reading the clock (tests here may freeze
 * Date): a fixed number of short real waits.
 */
export async function until<T>(
  check: () => Promise<T | undefined>,
  attempts = 200,
  waitMs = 25,
): Promise<T> {
  for (let i = 0; i < attempts; i += 1) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, waitMs));
  }
  throw new Error(`condition not met after ${attempts} attempts`);
}

/** Freezes Date (only Date: timers stay real) at `iso`; returns a setter to move it. */
export function freezeClock(iso: string): (iso: string) => void {
  jest.useFakeTimers({
    now: new Date(iso),
    doNotFake: [
      'hrtime',
      'nextTick',
      'performance',
      'queueMicrotask',
      'requestAnimationFrame',
      'cancelAnimationFrame',
      'requestIdleCallback',
      'cancelIdleCallback',
      'setImmediate',
      'clearImmediate',
      'setInterval',
      'clearInterval',
      'setTimeout',
      'clearTimeout',
    ],
  });
  return (next) => jest.setSystemTime(new Date(next));
}
