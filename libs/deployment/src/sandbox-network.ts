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
 * converge on the oldest this way. The order must be the true creation order, not merely one all
 * replicas share: a replica that listed before the younger twin existed uses the older one
 * alone, and a later replica removing "the younger" must never pick that one.
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
export class SandboxNetwork {
  private readonly logger = new Logger(SandboxNetwork.name);
  /** The look-up (or create) in flight or done; cleared when the engine says it is gone. */
  private resolving: Promise<string> | null = null;
  /** Its outcome once it has one, so forget() can decide at once. */
  private known: string | null = null;

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
    try {
      const target = `the sandbox network ${this.name}`;
      await withEngineBound(
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
      this.logger.log(
        `made the sandbox network ${this.name} (bridge, inter-container traffic off)`,
      );
    } catch (error) {
      // Another replica made it between our look and our create: it is found below.
      if (!isConflict(error)) throw this.failure(error, 'could not create');
    }
    const made = await this.find();
    if (made === null) {
      throw new CodedError(
        'CONTAINER_FAILED',
        `the sandbox network ${this.name} (SANDBOX_NETWORK) vanished right after it was created`,
        { network: this.name, reason: 'engine' },
      );
    }
    return this.accept(made);
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
    // Younger twins of ours are unused (every replica picks the oldest): best effort to clear.
    for (const twin of named.slice(1)) {
      if (twin.Labels?.[LABEL_NETWORK] === undefined) continue;
      await this.docker
        .getNetwork(twin.Id)
        .remove()
        .then(
          () => this.logger.warn(`removed ${twin.Id}, a second network named ${this.name}`),
          () => undefined,
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
