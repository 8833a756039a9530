import { CodedError } from '@app/domain';
import { Logger } from '@nestjs/common';
import type Dockerode from 'dockerode';
import { isConflict, toCodedError } from './docker-errors';
import { withEngineBound, type EngineBounds } from './engine-bounds';
import { LABEL_MANAGED, LABEL_NETWORK } from './labels';

/** The bridge driver's option that turns traffic between the network's containers off. */
export const ICC_OPTION = 'com.docker.network.bridge.enable_icc';

/** What the engine lists of a network; only these fields are read. */
interface NetworkSummary {
  Id: string;
  Name: string;
  Driver?: string;
  Created?: string;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

/** A network whose containers can reach each other is no sandbox network: use none rather. */
export function refusalOf(network: NetworkSummary): string | null {
  if (network.Driver !== 'bridge')
    return `its driver is ${network.Driver ?? 'unknown'}, not bridge`;
  if (network.Options?.[ICC_OPTION] !== 'false') {
    return `inter-container traffic is on (${ICC_OPTION} is not false), so sandboxes could reach each other`;
  }
  return null;
}

/**
 * The networks named exactly `name` (the engine's name filter matches substrings), oldest first.
 * Two replicas that both found none and both created one (Docker's duplicate check is not atomic)
 * send their new containers to the oldest this way (the younger twin is left alone: containers may
 * already be on it). Ties and Docker's trimmed fractions are ordered so every replica picks the
 * same one.
 */
export function byAge(networks: readonly NetworkSummary[], name: string): NetworkSummary[] {
  return networks
    .filter((network) => network.Name === name)
    .sort(
      (a, b) =>
        sortableInstant(a.Created).localeCompare(sortableInstant(b.Created)) ||
        a.Id.localeCompare(b.Id),
    );
}

/**
 * Docker's `Created` (Go's RFC 3339 with nanoseconds, always UTC) drops trailing zeros of the
 * fraction: `…05.1Z` is later than `…05.0999Z` but sorts before it as text. Padded to nine
 * digits, the text order is the time order.
 */
export function sortableInstant(created: string | undefined): string {
  if (created === undefined) return '';
  const match = /^([^.Z]*)(?:\.(\d{1,9}))?(Z?)$/.exec(created);
  if (match === null) return created;
  return `${match[1]}.${(match[2] ?? '').padEnd(9, '0')}${match[3]}`;
}

/**
 * sandboxd's own bridge network (SANDBOX_NETWORK), with inter-container traffic off: sandboxes on
 * it reach the outside world (the engine masquerades their traffic) and their published ports work,
 * but a connection from one sandbox to another's address is dropped by the engine's firewall rules.
 * Made on first use, labelled LABEL_MANAGED and LABEL_NETWORK, and never removed by sandboxd: every
 * replica on the engine shares it, and a restart finds it. An existing network of that name is
 * used only if it is such a bridge, whoever made it (an operator may make it with a subnet of their
 * choice); anything else is refused, never "fixed".
 */
/**
 * How long a replica that made the network waits before checking for a twin: longer than a
 * network create takes on a loaded engine, paid once per engine (only by the one that makes it).
 */
export const TWIN_SETTLE_MS = 1000;

export class SandboxNetwork {
  private readonly logger = new Logger(SandboxNetwork.name);
  /** The look-up (or create) in flight or done; cleared when the engine says it is gone. */
  private resolving: Promise<string> | null = null;
  /** Its outcome once it has one, so forget() can decide at once. */
  private known: string | null = null;
  /** Whether the twin networks were already reported (once per process is enough). */
  private warnedTwins = false;

  constructor(
    private readonly docker: Dockerode,
    readonly name: string,
    private readonly createdBy: string,
    private readonly bounds: EngineBounds,
  ) {}

  /** The network's id, made first if there is none. One engine round trip per process, normally. */
  id(): Promise<string> {
    if (this.resolving === null) {
      const resolving = this.resolve().then(
        (id) => {
          if (this.resolving === resolving) this.known = id;
          return id;
        },
        (error: unknown) => {
          // The engine may answer, or the operator fix it, by the next call.
          if (this.resolving === resolving) this.resolving = null;
          throw error;
        },
      );
      this.resolving = resolving;
    }
    return this.resolving;
  }

  /**
   * Forgets a network id the engine no longer knows (removed behind our back), or whatever is
   * known when no id is given: looked up, or made, again by the next id().
   */
  forget(id?: string): void {
    if (id !== undefined && this.known !== id) return;
    this.resolving = null;
    this.known = null;
  }

  private async resolve(): Promise<string> {
    const found = await this.find();
    if (found !== null) return this.accept(found);
    let madeId: string | null = null;
    try {
      const target = `the sandbox network ${this.name}`;
      const made = await withEngineBound(
        { kind: 'create', boundMs: this.bounds.create, target },
        (abortSignal) =>
          this.docker.createNetwork({
            Name: this.name,
            Driver: 'bridge',
            CheckDuplicate: true,
            Labels: { [LABEL_MANAGED]: 'true', [LABEL_NETWORK]: this.createdBy },
            Options: { [ICC_OPTION]: 'false' },
            abortSignal,
          }),
      );
      madeId = made.id;
      this.logger.log(
        `made the sandbox network ${this.name} (bridge, inter-container traffic off)`,
      );
    } catch (error) {
      // Another replica made it between our look and our create: it is found below.
      if (!isConflict(error)) throw this.failure(error, 'could not create');
    }
    if (madeId !== null) await this.settleTwins(madeId);
    const settled = await this.find();
    if (settled === null) {
      throw new CodedError(
        'CONTAINER_FAILED',
        `the sandbox network ${this.name} (SANDBOX_NETWORK) vanished right after it was created`,
        { network: this.name, reason: 'engine' },
      );
    }
    return this.accept(settled);
  }

  /**
   * Docker's duplicate check is not atomic: replicas that found no network at the same moment may
   * each make one, and while two share the name every container start on either fails (the engine
   * resolves a container's network by name at start: "ambiguous"). The maker waits until any
   * create that raced it has finished, then keeps its network only if it is the oldest; otherwise
   * it removes its own, which nothing uses yet (its id was never handed out). Every maker decides
   * on the same creation stamps, so exactly one network remains.
   */
  private async settleTwins(madeId: string): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, TWIN_SETTLE_MS));
    const oldest = await this.find();
    if (oldest === null || oldest.Id === madeId) return;
    try {
      await this.docker.getNetwork(madeId).remove();
      this.logger.warn(
        `another replica made the sandbox network ${this.name} at the same moment; removed ours (${madeId}) and use ${oldest.Id}`,
      );
    } catch (error) {
      throw this.failure(error, 'could not remove our twin of');
    }
  }

  private async find(): Promise<NetworkSummary | null> {
    let named: NetworkSummary[];
    try {
      const target = `the networks named ${this.name}`;
      const listed = (await withEngineBound(
        { kind: 'inspect', boundMs: this.bounds.inspect, target },
        (abortSignal) => this.docker.listNetworks({ filters: { name: [this.name] }, abortSignal }),
      )) as NetworkSummary[];
      named = byAge(listed, this.name);
    } catch (error) {
      throw this.failure(error, 'could not look up');
    }
    // Only a replica that made a twin removes it (settleTwins): another's may already hold
    // containers. New sandboxes join the oldest.
    if (named.length > 1 && !this.warnedTwins) {
      this.warnedTwins = true;
      this.logger.warn(
        `${named.length} networks are named ${this.name} (replicas made them at once); new sandboxes join the oldest, ${named[0].Id}`,
      );
    }
    return named[0] ?? null;
  }

  private accept(network: NetworkSummary): string {
    const refusal = refusalOf(network);
    if (refusal !== null) {
      throw new CodedError(
        'CONTAINER_FAILED',
        `the Docker network ${this.name} (SANDBOX_NETWORK) cannot hold sandboxes: ${refusal}; remove it or set SANDBOX_NETWORK to another name, and sandboxd makes one`,
        { network: this.name, networkId: network.Id, reason: 'engine' },
      );
    }
    return network.Id;
  }

  private failure(error: unknown, what: string): CodedError {
    return toCodedError(error, 'CONTAINER_FAILED', `${what} the sandbox network ${this.name}`, {
      network: this.name,
      reason: 'engine',
    });
  }
}
