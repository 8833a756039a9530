import { Injectable } from '@nestjs/common';
import { describeError } from '@app/domain';
import { DockerDeployment } from '@app/deployment';
import { SandboxMetaStore } from '@app/meta-store';
import { SandboxMetrics } from './sandbox-metrics';
import { SandboxResources } from './sandbox-resources';
import { PoolStatus, WarmPool } from './warm-pool/warm-pool';

export interface DependencyCheck {
  ok: boolean;
  latencyMs: number;
  error?: string;
}

export interface Readiness {
  ready: boolean;
  checks: {
    database: DependencyCheck;
    cache: DependencyCheck;
    docker: DependencyCheck;
    /** Not ok when the latest creates all failed in the engine (see StartOutcomes). */
    containerStarts: DependencyCheck;
  };
  /** Whether `disk` limits are enforced here (detected once from the engine's storage). */
  diskLimit: { supported: boolean; reason: string };
  /** Each WARM_POOL entry of this process: how many members are ready, and the last refill error. */
  warmPool: PoolStatus[];
}

const CHECK_TIMEOUT_MS = 2000;

/** Readiness of everything a sandbox operation needs: the database, the cache, the Docker engine. */
@Injectable()
export class SandboxHealth {
  constructor(
    private readonly store: SandboxMetaStore,
    private readonly deployment: DockerDeployment,
    private readonly resources: SandboxResources,
    private readonly pool: WarmPool,
    private readonly metrics: SandboxMetrics,
  ) {}

  async readiness(): Promise<Readiness> {
    const [database, cache, docker] = await Promise.all([
      check(() => this.store.pingDatabase()),
      check(() => this.store.pingCache()),
      check(() => this.deployment.ping()),
    ]);
    // An engine that answers pings but starts nothing is not ready either.
    const failing = this.metrics.starts.systematicFailure();
    const containerStarts: DependencyCheck = failing
      ? { ok: false, latencyMs: 0, error: failing }
      : { ok: true, latencyMs: 0 };
    return {
      ready: database.ok && cache.ok && docker.ok && containerStarts.ok,
      checks: { database, cache, docker, containerStarts },
      diskLimit: await this.resources.diskSupport(),
      warmPool: this.pool.status(),
    };
  }
}

async function check(probe: () => Promise<unknown>): Promise<DependencyCheck> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer in ${CHECK_TIMEOUT_MS} ms`)),
          CHECK_TIMEOUT_MS,
        );
      }),
    ]);
    return { ok: true, latencyMs: Date.now() - started };
  } catch (error) {
    return { ok: false, latencyMs: Date.now() - started, error: describeError(error) };
  } finally {
    clearTimeout(timer);
  }
}
