import { CodedError } from '@app/domain';
import type Dockerode from 'dockerode';
import { isNotFound } from './docker-errors';
import { hostPortsOf } from './port-map';
import { pickPorts, type PortRange } from './port-picker';

/** Inspects run in small batches so a scan of a busy engine does not open hundreds of requests. */
const INSPECT_BATCH = 8;

interface CachedBindings {
  ports: number[];
  /** Scan generation when recorded; lets a scan tell stale entries from ones added meanwhile. */
  generation: number;
}

/**
 * Chooses host ports for new sandboxes from the configured range, avoiding every port that any
 * container on the engine publishes, running or stopped (a stopped container gets its ports back on
 * start, so handing them out would break its restart), plus ports reserved by provisions still in
 * flight in this process.
 *
 * Stopped containers only show their bindings in `inspect`, so bindings are cached per container
 * id (they never change for a container) and each scan inspects only containers not seen before
 * that are not running and not being made by this process: a running container's ports are in the
 * listing itself, and it is inspected once it has stopped, if ever. Under a burst of creates that
 * keeps the scan to one listing: the new containers run (or are this process's own, recorded at
 * their create or leased) by the next scan, instead of each being inspected, eight at a time, by
 * a busy engine.
 */
export class HostPortAllocator {
  private readonly bindings = new Map<string, CachedBindings>();
  private readonly reserved = new Set<number>();
  /**
   * Names of the containers this process's open leases are for. Such a container may be in a
   * scan's listing before its create has returned and been recorded; its ports are reserved here,
   * and inspecting it would wait behind its start (the engine locks a container while starting).
   */
  private readonly inFlight = new Map<string, number>();
  private generation = 0;
  /** The scan in progress, which concurrent provisions join instead of starting their own. */
  private scanning: Promise<Set<number>> | null = null;

  constructor(
    private readonly docker: Dockerode,
    private readonly range: PortRange,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * Scans the engine once; the lease then serves all port choices of one provision. Provisions
   * arriving while a scan runs share it: a burst of creates would otherwise list the engine once
   * each and inspect every container none of them had seen yet, once each. Sharing is as safe as
   * a scan of one's own started a moment earlier: containers this process makes meanwhile are
   * covered by their reservations, and another process's by the start's port-conflict retry.
   */
  async openLease(containerName?: string): Promise<PortLease> {
    if (containerName !== undefined) this.track(containerName, 1);
    try {
      this.scanning ??= this.scan().finally(() => {
        this.scanning = null;
      });
      return new PortLease(this, await this.scanning, containerName);
    } catch (error) {
      if (containerName !== undefined) this.track(containerName, -1);
      throw error;
    }
  }

  /** Number of containers whose bindings are cached (for tests and diagnostics). */
  get cachedContainerCount(): number {
    return this.bindings.size;
  }

  /** @internal used by PortLease */
  reserve(count: number, alsoTaken: ReadonlySet<number>): number[] {
    const taken = this.takenPorts();
    const ports = pickPorts(
      this.range,
      count,
      (port) => taken.has(port) || alsoTaken.has(port),
      this.random,
    );
    if (ports === null) {
      throw new CodedError(
        'PORTS_EXHAUSTED',
        `no free host port left in ${this.range.from}-${this.range.to} (${count} needed)`,
        { range: { ...this.range }, needed: count },
      );
    }
    for (const port of ports) this.reserved.add(port);
    return ports;
  }

  /** @internal used by PortLease */
  unreserve(ports: Iterable<number>): void {
    for (const port of ports) this.reserved.delete(port);
  }

  /** @internal used by PortLease: counts a lease for `name` in (+1) or out (-1). */
  track(name: string, change: 1 | -1): void {
    const leases = (this.inFlight.get(name) ?? 0) + change;
    if (leases > 0) this.inFlight.set(name, leases);
    else this.inFlight.delete(name);
  }

  /**
   * @internal used by PortLease: records a just-created container's bindings so that a
   * concurrent provision whose scan ran before the create still sees them once the reservation
   * is released, and so that no scan needs to inspect it.
   */
  record(containerId: string, ports: number[]): void {
    this.bindings.set(containerId, { ports: [...ports], generation: this.generation });
  }

  private takenPorts(): Set<number> {
    const taken = new Set(this.reserved);
    for (const entry of this.bindings.values()) for (const port of entry.ports) taken.add(port);
    return taken;
  }

  /** Refreshes the bindings cache; returns ports of running containers as the engine reports them. */
  private async scan(): Promise<Set<number>> {
    this.generation += 1;
    const scanGeneration = this.generation;
    const containers = await this.docker.listContainers({ all: true });

    // Running containers list their live ports, including ones the engine chose itself (an empty
    // HostPort binding), which inspect's PortBindings cannot show.
    const livePorts = new Set<number>();
    for (const container of containers) {
      for (const port of container.Ports ?? []) {
        if (typeof port.PublicPort === 'number') livePorts.add(port.PublicPort);
      }
    }

    const present = new Set(containers.map((container) => container.Id));
    for (const [id, entry] of this.bindings) {
      if (!present.has(id) && entry.generation < scanGeneration) this.bindings.delete(id);
    }

    const unseen = containers.filter(
      (container) =>
        container.State !== 'running' &&
        !this.bindings.has(container.Id) &&
        !(container.Names ?? []).some((name) => this.inFlight.has(name.replace(/^\//, ''))),
    );
    for (let i = 0; i < unseen.length; i += INSPECT_BATCH) {
      await Promise.all(
        unseen
          .slice(i, i + INSPECT_BATCH)
          .map((container) => this.learn(container.Id, scanGeneration)),
      );
    }
    return livePorts;
  }

  private async learn(containerId: string, generation: number): Promise<void> {
    // Recorded at its create while this scan waited on an earlier batch.
    if (this.bindings.has(containerId)) return;
    try {
      const info = await this.docker.getContainer(containerId).inspect();
      const configured: unknown = info.HostConfig?.PortBindings;
      this.bindings.set(containerId, { ports: hostPortsOf(configured), generation });
    } catch (error) {
      // Removed between list and inspect: it holds no ports any more.
      if (!isNotFound(error)) throw error;
    }
  }
}

/**
 * The ports one provision holds. Reservations last until `release()`, which the provision calls
 * in `finally`, after `commit()` has recorded the bindings of the container it created.
 */
export class PortLease {
  private readonly held = new Set<number>();
  private readonly excluded = new Set<number>();

  constructor(
    private readonly allocator: HostPortAllocator,
    livePorts: ReadonlySet<number>,
    /** The container the lease is for, which scans leave alone until release(). */
    private containerName?: string,
  ) {
    for (const port of livePorts) this.excluded.add(port);
  }

  take(count: number): number[] {
    if (count === 0) return [];
    const ports = this.allocator.reserve(count, this.excluded);
    for (const port of ports) this.held.add(port);
    return ports;
  }

  /** Ports found taken by someone outside Docker's view; never offered again by this lease. */
  exclude(ports: Iterable<number>): void {
    for (const port of ports) this.excluded.add(port);
  }

  /**
   * Records the bindings a container was created with, as soon as the create returned (a failed
   * start removes it, and the next scan forgets it).
   */
  commit(containerId: string, ports: number[]): void {
    this.allocator.record(containerId, ports);
  }

  release(): void {
    this.allocator.unreserve(this.held);
    this.held.clear();
    if (this.containerName !== undefined) this.allocator.track(this.containerName, -1);
    this.containerName = undefined;
  }
}
