import { DockerConfig, ExecConfig } from '@app/config';
import { CodedError, describeError } from '@app/domain';
import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import Dockerode from 'dockerode';
import { buildContainerConfig, containerNameFor, requestedPorts } from './container-config';
import {
  ContainerEventStream,
  type ContainerEventHandler,
  type EventStreamOptions,
  type ResyncHandler,
} from './container-event-stream';
import {
  inspectContainer,
  isSettledByBound,
  removeContainer,
  stopContainer,
} from './container-ops';
import {
  confirmRunning,
  HostPortConflictError,
  NetworkMissingError,
  STARTUP_GRACE_MS,
  startContainer,
  startupGraceMs,
} from './container-starter';
import {
  isConflict,
  isNetworkAmbiguous,
  isNetworkMissing,
  isNotFound,
  toCodedError,
} from './docker-errors';
import { withEngineBound, type EngineBounds } from './engine-bounds';
import { ExecOutputBudget } from './exec-output-budget';
import { runExec, streamExec } from './exec-runner';
import type { ExecEvent, ExecRequest, ExecResult } from './exec-types';
import { deletePath } from './file-delete';
import { readPath, statPathFollowing } from './file-read';
import type { FileInfo, FileRead, ReadOptions, WriteOptions } from './file-types';
import { writePath } from './file-write';
import { HostPortAllocator, type PortLease } from './host-port-allocator';
import { ImagePuller } from './image-puller';
import { RegistryPolicy } from './registry-policy';
import { ownedLabelFilters } from './labels';
import { runningFromListing } from './container-state';
import { SandboxNetwork, TWIN_SETTLE_MS } from './sandbox-network';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  BeforeStartHook,
  ContainerSpec,
  ContainerState,
  OwnedContainer,
  OwnedFilter,
} from './types';

/** Tries with fresh host ports when another process grabs one between our scan and the start. */
const PORT_ATTEMPTS = 4;
const PING_TIMEOUT_MS = 5_000;
const INSPECT_BATCH = 8;
/** Twice a racing replica's settle time: by then it has removed its twin of the network. */
const NETWORK_TWIN_WAIT_MS = 2 * TWIN_SETTLE_MS;

/**
 * The only place that talks to the Docker engine. Every operation is idempotent so that callers
 * (request handlers, the reconciler after a crash) can simply repeat one that was interrupted.
 * Failures surface as CodedError: RUNTIME_UNAVAILABLE when the engine cannot be reached,
 * IMAGE_UNAVAILABLE, CONTAINER_FAILED or PORTS_EXHAUSTED otherwise.
 */
@Injectable()
export class DockerDeployment implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(DockerDeployment.name);
  private readonly docker: Dockerode;
  private readonly ports: HostPortAllocator;
  private readonly images: ImagePuller;
  private readonly registries: RegistryPolicy;
  /**
   * Streams handed out by watchEvents, stopped on shutdown so no socket outlives the app. Kept even
   * once stopped (a caller may start one again); a process has only a handful.
   */
  private readonly watchers = new Set<ContainerEventStream>();
  /** Output all buffered execs of this process hold at once (EXEC_OUTPUT_BUDGET). */
  readonly execOutputBudget: ExecOutputBudget;
  /** How long each kind of engine call may take (DOCKER_*_TIMEOUT_SECONDS). */
  private readonly bounds: EngineBounds;
  /** sandboxd's own network (SANDBOX_NETWORK) that `bridge` sandboxes are attached to. */
  private readonly network: SandboxNetwork;
  /** The boot-time look-up (or making) of that network, awaited by a shutdown that meets it. */
  private preparingNetwork: Promise<void> = Promise.resolve();

  constructor(
    private readonly config: DockerConfig,
    exec: ExecConfig,
  ) {
    this.bounds = config.callTimeoutsMs;
    this.execOutputBudget = new ExecOutputBudget(exec.outputBudgetBytes);
    this.docker = new Dockerode({ socketPath: config.socketPath });
    this.ports = new HostPortAllocator(this.docker, config.portRange);
    this.registries = new RegistryPolicy(config.registryAllowlist);
    this.images = new ImagePuller(this.docker, config.imagePullTimeoutSeconds, this.registries);
    this.network = new SandboxNetwork(
      this.docker,
      config.sandboxNetwork,
      config.instanceId,
      this.bounds,
    );
  }

  containerName(sandboxId: string): string {
    return containerNameFor(sandboxId);
  }

  async ping(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)),
        PING_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([this.docker.ping(), timeout]);
    } catch (error) {
      throw new CodedError(
        'RUNTIME_UNAVAILABLE',
        `the Docker engine at ${this.config.socketPath} does not answer: ${describeError(error)}`,
        undefined,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Refuses (REGISTRY_NOT_ALLOWED) an image whose registry is on a non-public address not in
   * REGISTRY_ALLOWLIST, without asking the engine anything: a create checks this before it is
   * accepted, and every pull checks it again.
   */
  checkImageSource(image: string): Promise<void> {
    return this.registries.check(image);
  }

  /**
   * Whether the engine holds the image already (nothing is pulled). RUNTIME_UNAVAILABLE when the
   * engine cannot say: an outage is never read as "no such image".
   */
  isImagePresent(image: string): Promise<boolean> {
    return this.images.isPresent(image);
  }

  /** The image's os/architecture if the engine holds it, else null (see ImagePuller). */
  imagePlatform(image: string): Promise<string | null> {
    return this.images.platformOf(image);
  }

  ensureImage(image: string, signal?: AbortSignal): Promise<void> {
    return this.images.ensure(image, signal);
  }

  /**
   * Creates and starts the container of a sandbox, or picks up the one an interrupted earlier
   * call left behind (same name, our sandbox label). Either a running container is returned or,
   * for a container this call created, nothing is left behind.
   *
   * @param beforeStart runs between create and start (the quota step); throwing aborts.
   */
  async provision(
    spec: ContainerSpec,
    beforeStart?: BeforeStartHook,
    signal?: AbortSignal,
  ): Promise<ContainerState> {
    signal?.throwIfAborted();
    // Independent engine round trips, so they overlap: the image check, the look for a container
    // an earlier call left (or a warm-pool member, which is already running) and the host-port
    // scan. A lease reserves nothing until ports are taken from it, so an unused one costs nothing.
    const containerPorts = requestedPorts(spec);
    const leasing =
      containerPorts.length > 0
        ? this.engine(
            () => this.ports.openLease(this.containerName(spec.sandboxId)),
            'could not scan host ports',
          )
        : Promise.resolve(null);
    // A `none` sandbox needs no network; a `bridge` one the id of sandboxd's (made if missing).
    const networking =
      (spec.network ?? 'bridge') === 'bridge' ? this.network.id() : Promise.resolve('');
    try {
      const [, existing, lease, networkId] = await Promise.all([
        this.ensureImage(spec.image, signal),
        this.findOwn(spec.sandboxId, signal),
        leasing,
        networking,
      ]);
      signal?.throwIfAborted();
      if (existing) return await this.resume(existing, startupGraceMs(spec), beforeStart, signal);
      return await this.createAndStart(spec, containerPorts, lease, networkId, beforeStart, signal);
    } finally {
      (await leasing.catch(() => null))?.release();
    }
  }

  /**
   * Starts a stopped sandbox again; the same container, so the same host ports and files.
   * @param graceMs how long the main process is watched (see startupGraceMs).
   * @param signal aborts the engine calls in flight (the caller's lock was lost).
   */
  async start(
    containerId: string,
    graceMs: number = STARTUP_GRACE_MS,
    signal?: AbortSignal,
  ): Promise<ContainerState> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await startContainer(this.docker, containerId, this.bounds, signal);
        break;
      } catch (error) {
        if (error instanceof HostPortConflictError) {
          throw new CodedError(
            'CONTAINER_FAILED',
            `container ${containerId} cannot start: one of its host ports is taken by another process (${error.engineText})`,
            { containerId, reason: 'port-conflict' },
          );
        }
        if (error instanceof NetworkMissingError && attempt === 1) {
          // The sandbox network this process knew was removed behind its back (a stopped
          // container does not hold it): made again, and the container moved onto it, once.
          this.network.forget();
          const state = await this.inspect(containerId, signal);
          if (state !== null) {
            await this.joinSandboxNetwork(state, signal);
            continue;
          }
        }
        if (error instanceof NetworkMissingError) {
          throw new CodedError(
            'CONTAINER_FAILED',
            `container ${containerId} cannot start: its network does not exist (${this.network.name})`,
            { containerId, reason: 'engine' },
          );
        }
        throw error;
      }
    }
    const host = this.config.portBindAddress;
    return confirmRunning(this.docker, containerId, host, graceMs, this.bounds, signal);
  }

  /**
   * Each engine call below is bounded (DOCKER_*_TIMEOUT_SECONDS, ENGINE_TIMEOUT past it) and
   * aborted with `signal`; either way the request to dockerd is cancelled, not left pending.
   */
  stop(
    containerId: string,
    timeoutSeconds: number = this.config.stopTimeoutSeconds,
    signal?: AbortSignal,
  ): Promise<'stopped' | 'missing'> {
    return stopContainer(this.docker, containerId, timeoutSeconds, this.bounds, signal);
  }

  /**
   * Before a stopped container is started again: puts a container that should be on sandboxd's
   * network (any but a `none` one) onto it, leaving whatever else it was on. That is Docker's
   * default bridge for a container of a release before sandbox networks, where sandboxes could
   * reach each other, or an earlier sandbox network removed behind the service's back (which would
   * make the start fail). A no-op for a running container, a `none` one, or one already on it.
   */
  async joinSandboxNetwork(state: ContainerState, signal?: AbortSignal): Promise<void> {
    if (state.running || state.networkMode === 'none') return;
    const attached = state.networks ?? {};
    for (let attempt = 1; ; attempt += 1) {
      const networkId = await this.network.id();
      if (Object.values(attached).includes(networkId)) return;
      signal?.throwIfAborted();
      try {
        // By the name the container holds it under: a removed network is only known by that.
        for (const name of Object.keys(attached)) {
          await this.networkCall(`disconnect ${state.containerId} from ${name}`, signal, (abort) =>
            this.docker
              .getNetwork(name)
              .disconnect(withAbort({ Container: state.containerId, Force: true }, abort)),
          );
        }
        await this.networkCall(`connect ${state.containerId} to ${networkId}`, signal, (abort) =>
          this.docker
            .getNetwork(networkId)
            .connect(withAbort({ Container: state.containerId }, abort)),
        );
      } catch (error) {
        if (attempt === 1 && isNotFound(error)) {
          this.network.forget(networkId); // ours was removed after we learnt its id
          continue;
        }
        throw toCodedError(
          error,
          'CONTAINER_FAILED',
          `could not move container ${state.containerId} onto the sandbox network ${this.network.name}`,
          { containerId: state.containerId, reason: 'engine' },
        );
      }
      this.logger.log(
        `container ${state.containerId} moved onto the sandbox network ${this.network.name} (it was on ${describeNetworks(attached)})`,
      );
      return;
    }
  }

  remove(containerId: string, signal?: AbortSignal): Promise<void> {
    return removeContainer(this.docker, containerId, this.bounds, signal);
  }

  inspect(idOrName: string, signal?: AbortSignal): Promise<ContainerState | null> {
    return inspectContainer(
      this.docker,
      idOrName,
      this.config.portBindAddress,
      this.bounds,
      signal,
    );
  }

  /**
   * Containers carrying our managed label, in any state, optionally narrowed by owner labels.
   * One list call; a running container is taken from the list answer as it is, and only the
   * others are inspected (INSPECT_BATCH at a time) for their exit code, OOM kill and finish time:
   * a reconcile pass over 500 running sandboxes is one engine call, not 501.
   */
  async listOwned(filter: OwnedFilter = {}): Promise<OwnedContainer[]> {
    const listed = await this.engine(
      () =>
        this.docker.listContainers({ all: true, filters: { label: ownedLabelFilters(filter) } }),
      'could not list containers',
    );
    const states: OwnedContainer[] = [];
    const stopped: string[] = [];
    for (const container of listed) {
      const running = runningFromListing(container);
      if (running) states.push(running);
      else stopped.push(container.Id);
    }
    for (let i = 0; i < stopped.length; i += INSPECT_BATCH) {
      const batch = await Promise.all(
        stopped.slice(i, i + INSPECT_BATCH).map((id) => this.inspect(id)),
      );
      // null: removed between list and inspect.
      for (const state of batch) if (state) states.push(state);
    }
    return states;
  }

  /**
   * Follows die, oom and destroy events of our containers until the returned handle is stopped.
   * `onResync` runs on every (re)connect, since events sent while disconnected are lost: the
   * caller should then reconcile against listOwned(). Neither callback's errors escape.
   */
  watchEvents(
    handler: ContainerEventHandler,
    onResync: ResyncHandler,
    options: EventStreamOptions = {},
  ): ContainerEventStream {
    const stream = new ContainerEventStream(this.docker, handler, onResync, options);
    this.watchers.add(stream);
    stream.start();
    return stream;
  }

  /**
   * Runs a program in a running container and collects its capped output. On timeout or abort
   * the whole process tree is killed (exec-killer.ts); an abort then rejects with its reason.
   * The output is charged to the process-wide budget until the result's release() is called;
   * without room, EXEC_OUTPUT_BUDGET_EXHAUSTED.
   */
  exec(containerId: string, request: ExecRequest, signal?: AbortSignal): Promise<ExecResult> {
    const { execOutputBudget: budget, bounds } = this;
    return runExec(this.docker, containerId, request, signal, undefined, budget, bounds.execStart);
  }

  /** Like exec, output delivered as it comes; leaving the iteration early kills the tree. */
  execStream(
    containerId: string,
    request: ExecRequest,
    signal?: AbortSignal,
  ): Promise<AsyncIterable<ExecEvent>> {
    return streamExec(this.docker, containerId, request, signal, undefined, this.bounds.execStart);
  }

  /** A regular file as a stream, or a directory's listing; works on stopped containers. */
  readFile(containerId: string, path: string, options: ReadOptions): Promise<FileRead> {
    return readPath(this.docker, containerId, path, options);
  }

  /** One stat of what `path` names, symlinks followed: no content read, no listing. */
  statFile(containerId: string, path: string, signal?: AbortSignal): Promise<FileInfo> {
    return statPathFollowing(this.docker, containerId, path, signal);
  }

  /** Writes one file into an existing directory; works on stopped containers. */
  writeFile(
    containerId: string,
    path: string,
    data: Buffer | Readable,
    options: WriteOptions,
  ): Promise<FileInfo> {
    return writePath(this.docker, containerId, path, data, options);
  }

  /** `rm -rf` inside the container: needs it running and an rm in the image. */
  deleteFile(
    containerId: string,
    path: string,
    signal?: AbortSignal,
  ): Promise<'deleted' | 'missing'> {
    return deletePath(this.docker, containerId, path, signal);
  }

  /**
   * Looks up the sandbox network, or makes it, in the background at boot, so the first burst of
   * creates does not wait for it: a network made now costs the engine's create and the second a
   * maker waits out racing replicas (SandboxNetwork.settleTwins). A failure is only reported:
   * the first create that needs the network asks again.
   */
  onApplicationBootstrap(): void {
    this.preparingNetwork = this.network.id().then(
      () => undefined,
      (error: unknown) =>
        this.logger.warn(`the sandbox network is not ready yet: ${describeError(error)}`),
    );
  }

  /** Stops every stream watchEvents handed out; stopping one twice is harmless. */
  async onModuleDestroy(): Promise<void> {
    for (const stream of [...this.watchers]) stream.stop();
    // Not left to finish (or make a network) after the app, and its sweep, are gone.
    await this.preparingNetwork;
  }

  private async createAndStart(
    spec: ContainerSpec,
    containerPorts: number[],
    lease: PortLease | null,
    initialNetworkId: string,
    beforeStart: BeforeStartHook | undefined,
    signal: AbortSignal | undefined,
  ): Promise<ContainerState> {
    let lastConflict = '';
    let networkId = initialNetworkId;
    let networkRetried = false;
    /**
     * Once per provision, a sandbox network removed after its id was learnt (the engine names it
     * in a 404 at create or, on older engines, at start) is made again and the attempt repeated.
     */
    const retryWithNewNetwork = async (error: unknown): Promise<boolean> => {
      const ambiguous =
        (error instanceof NetworkMissingError && error.ambiguous) || isNetworkAmbiguous(error);
      const missing = ambiguous || error instanceof NetworkMissingError || isNetworkMissing(error);
      if (!missing || networkRetried || networkId === '') return false;
      networkRetried = true;
      // A twin made by a racing replica is removed by it within its settle time: wait that out.
      if (ambiguous) await sleep(NETWORK_TWIN_WAIT_MS);
      this.network.forget(networkId);
      networkId = await this.network.id();
      this.logger.warn(
        ambiguous
          ? `sandbox ${spec.sandboxId}: two networks carried the sandbox network's name (replicas made it at once); retried once one remained`
          : `sandbox ${spec.sandboxId}: the sandbox network was gone; made it again`,
      );
      return true;
    };
    for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt += 1) {
      const hostPortList = lease ? lease.take(containerPorts.length) : [];
      const hostPorts = new Map(containerPorts.map((port, i) => [port, hostPortList[i]]));
      const options = buildContainerConfig(spec, hostPorts, this.config, networkId);

      let containerId: string;
      try {
        const target = `sandbox ${spec.sandboxId}`;
        const bound = { kind: 'create', boundMs: this.bounds.create, target, signal } as const;
        const created = await withEngineBound(bound, (abortSignal) =>
          this.docker.createContainer({ ...options, abortSignal }),
        );
        containerId = created.id;
        // Known now, so a concurrent provision's port scan need not inspect it.
        lease?.commit(containerId, hostPortList);
      } catch (error) {
        if (isSettledByBound(error, signal)) throw error;
        // Name taken: a concurrent or earlier provision of the same sandbox got there first.
        if (isConflict(error)) {
          const existing = await this.findOwn(spec.sandboxId, signal);
          if (existing) return this.resume(existing, startupGraceMs(spec), beforeStart, signal);
        }
        if (await retryWithNewNetwork(error)) continue;
        throw toCodedError(
          error,
          'CONTAINER_FAILED',
          `could not create the container of sandbox ${spec.sandboxId}`,
          { sandboxId: spec.sandboxId, reason: 'engine' },
        );
      }

      try {
        if (beforeStart) await beforeStart(containerId);
        signal?.throwIfAborted();
        await startContainer(this.docker, containerId, this.bounds, signal);
        const state = await confirmRunning(
          this.docker,
          containerId,
          this.config.portBindAddress,
          startupGraceMs(spec),
          this.bounds,
          signal,
        );
        return state;
      } catch (error) {
        await this.removeQuietly(containerId);
        if (await retryWithNewNetwork(error)) continue;
        if (error instanceof NetworkMissingError) {
          throw new CodedError(
            'CONTAINER_FAILED',
            `sandbox ${spec.sandboxId} could not start: its network is gone (${this.network.name})`,
            { sandboxId: spec.sandboxId, reason: 'engine' },
          );
        }
        if (!(error instanceof HostPortConflictError) || !lease) throw error;
        lastConflict = error.engineText;
        lease.exclude(hostPortList);
        this.logger.warn(
          `sandbox ${spec.sandboxId}: host port taken meanwhile (${lastConflict}), retrying with other ports`,
        );
      }
    }
    throw new CodedError(
      'PORTS_EXHAUSTED',
      `no usable host port found after ${PORT_ATTEMPTS} attempts: ${lastConflict}`,
      { range: { ...this.config.portRange }, attempts: PORT_ATTEMPTS },
    );
  }

  /**
   * The usable container named for this sandbox, if it carries our label for it. A dead one (a
   * failed removal) can never run again and would block the name, so it is cleared away here.
   */
  private async findOwn(sandboxId: string, signal?: AbortSignal): Promise<ContainerState | null> {
    const state = await this.inspect(containerNameFor(sandboxId), signal);
    if (state === null) return null;
    if (state.sandboxId !== sandboxId) {
      throw new CodedError(
        'CONTAINER_FAILED',
        `a container named ${state.name} exists but does not belong to sandbox ${sandboxId}`,
        { sandboxId, containerId: state.containerId },
      );
    }
    if (state.status === 'dead' || state.status === 'removing') {
      await this.remove(state.containerId, signal);
      return null;
    }
    return state;
  }

  /**
   * Finishes what an interrupted provision left. A container never started ("created") is still
   * half-made: it gets the beforeStart step it may have missed and is removed if it fails. One that
   * ran before is a finished sandbox: it is only started again, never removed here.
   */
  private async resume(
    existing: ContainerState,
    graceMs: number,
    beforeStart: BeforeStartHook | undefined,
    signal: AbortSignal | undefined,
  ): Promise<ContainerState> {
    if (existing.running) return existing;
    const { containerId } = existing;
    await this.joinSandboxNetwork(existing, signal);
    if (existing.status !== 'created') return this.start(containerId, graceMs, signal);
    try {
      if (beforeStart) await beforeStart(containerId);
      return await this.start(containerId, graceMs, signal);
    } catch (error) {
      await this.removeQuietly(containerId);
      throw error;
    }
  }

  /** Cleanup on a failure path: the original error matters more than a failed cleanup. */
  private async removeQuietly(containerId: string): Promise<void> {
    try {
      await this.remove(containerId);
    } catch (error) {
      this.logger.warn(
        `could not remove half-made container ${containerId}: ${describeError(error)}`,
      );
    }
  }

  /** A network connect or disconnect, as small as an inspect: bounded like one. */
  private networkCall<T>(
    target: string,
    signal: AbortSignal | undefined,
    call: (abort: AbortSignal) => Promise<T>,
  ): Promise<T> {
    return withEngineBound({ kind: 'inspect', boundMs: this.bounds.inspect, target, signal }, call);
  }

  /** Runs an engine call, turning its errors into CodedErrors. */
  private async engine<T>(call: () => Promise<T>, context: string): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw toCodedError(error, 'RUNTIME_UNAVAILABLE', context);
    }
  }
}

/** dockerode passes `abortSignal` of any options on to the request; its types only lack it. */
function withAbort<T extends object>(options: T, abortSignal: AbortSignal): T {
  const withSignal: T & { abortSignal: AbortSignal } = { ...options, abortSignal };
  return withSignal;
}

/** `bridge (cbf09f0a49b3), sandboxd (1a2b…)`: names with short ids, as the engine holds them. */
function describeNetworks(networks: Record<string, string>): string {
  const entries = Object.entries(networks);
  if (entries.length === 0) return 'no network';
  return entries.map(([name, id]) => `${name} (${id.slice(0, 12) || 'no id'})`).join(', ');
}
