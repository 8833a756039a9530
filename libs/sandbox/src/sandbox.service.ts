import { Injectable, Logger } from '@nestjs/common';
import { AppConfig, CodedError, describeError } from '@app/config';
import {
  SandboxInfo,
  SandboxLock,
  SandboxMetaStore,
  SandboxRecord,
  SandboxState,
} from '@app/meta-store';
import { CreateSandboxInput, fingerprintOf, toSandboxSpec } from './create-sandbox.input';
import { newSandboxId } from './sandbox-id';
import { SandboxDriver } from './sandbox-driver';
import { SandboxMetrics } from './sandbox-metrics';
import { MACHINE_VERSION, SandboxMachineEvent } from './sandbox.machine';

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

export interface ListQuery {
  states?: SandboxState[];
  labels?: Record<string, string>;
  image?: string;
  includeDeleted?: boolean;
  limit: number;
  cursor?: string;
}

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
    private readonly config: AppConfig,
    private readonly store: SandboxMetaStore,
    private readonly lock: SandboxLock,
    private readonly driver: SandboxDriver,
    private readonly metrics: SandboxMetrics,
  ) {}

  async create(input: CreateSandboxInput, options: CreateOptions): Promise<CreateResult> {
    const id = newSandboxId();
    const spec = toSandboxSpec(input, this.config);
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
      instanceId: this.config.instanceId,
      idleTimeoutSeconds: spec.idleTimeoutSeconds,
      autoDeleteSeconds: spec.autoDeleteSeconds,
      createdAt: now.toISOString(),
      startedAt: null,
      stoppedAt: null,
      deletedAt: null,
      failureReason: null,
      stateHistory: [],
    };
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
    const run = this.lock.withLock(id, async () => {
      const result = await this.store.insert({
        info,
        spec,
        machineSnapshot: null,
        machineVersion: MACHINE_VERSION,
        idempotency,
      });
      announce(result);
      if (!result.created) return result.record;
      await this.store.setTimeout(id, {
        idleTimeoutSeconds: spec.idleTimeoutSeconds,
        expiresAt: new Date(now.getTime() + spec.idleTimeoutSeconds * 1000).toISOString(),
      });
      return this.metrics.time('create', () => this.driver.drive(result.record, null));
    });
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

  list(query: ListQuery): Promise<{ items: SandboxInfo[]; nextCursor: string | null }> {
    return this.store.list(query);
  }

  async stop(idOrName: string, reason = 'manual'): Promise<SandboxInfo> {
    return this.command(idOrName, { type: 'stop', reason });
  }

  async restart(idOrName: string): Promise<SandboxInfo> {
    return this.command(idOrName, { type: 'restart' });
  }

  async delete(idOrName: string, force: boolean): Promise<SandboxInfo> {
    return this.command(idOrName, { type: 'delete', force });
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
        await this.lock.withLock(record.info.id, async () => {
          const fresh = await this.store.load(record.info.id);
          if (fresh && fresh.info.operation !== null) {
            this.logger.warn(
              `recovering sandbox ${fresh.info.id}: ${fresh.info.operation} was interrupted`,
            );
            await this.driver.drive(fresh, null);
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
    const found = await this.store.load(idOrName);
    if (!found) throw notFound(idOrName);
    const id = found.info.id;
    const record = await this.metrics.time(event.type, () =>
      this.lock.withLock(id, async () => {
        const fresh = await this.store.load(id);
        if (!fresh) throw notFound(idOrName);
        // Deleting a deleted sandbox is idempotent: the answer is the same, nothing happens.
        if (event.type === 'delete' && fresh.info.state === 'deleted') return fresh;
        return this.driver.drive(fresh, event);
      }),
    );
    return record.info;
  }

  private async awaitWithin(run: Promise<SandboxRecord>, id: string): Promise<SandboxRecord> {
    const timeoutMs = this.config.waitTimeoutSeconds * 1000;
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
    const deadline = Date.now() + this.config.waitTimeoutSeconds * 1000;
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
