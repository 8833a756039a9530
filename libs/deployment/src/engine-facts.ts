import { Injectable } from '@nestjs/common';
import Dockerode from 'dockerode';
import { DockerConfig } from '@app/config';

/** The storage facts of `GET /info` that decide whether `--storage-opt size=` is honoured. */
export interface EngineStorageInfo {
  Driver?: string;
  DriverStatus?: string[][] | null;
  DockerRootDir?: string;
}

export interface EngineCapacity {
  cpus: number;
  memoryBytes: number;
}

/**
 * Read-only facts about the engine and one container's storage, for admission and the quota step.
 * Kept apart from DockerDeployment's lifecycle verbs; it owns a client of its own (a dockerode
 * client is only a socket path, so two cost nothing).
 */
@Injectable()
export class EngineFacts {
  private readonly docker: Dockerode;

  constructor(config: DockerConfig) {
    this.docker = new Dockerode({ socketPath: config.socketPath });
  }

  async storageInfo(): Promise<EngineStorageInfo> {
    const info = (await this.docker.info()) as EngineStorageInfo;
    return {
      Driver: info.Driver,
      DriverStatus: info.DriverStatus,
      DockerRootDir: info.DockerRootDir,
    };
  }

  /** CPUs and memory of the host the engine runs on (not of the service's own container). */
  async capacity(): Promise<EngineCapacity> {
    const info = (await this.docker.info()) as { NCPU?: number; MemTotal?: number };
    if (!info.NCPU || !info.MemTotal) throw new Error('engine did not report NCPU and MemTotal');
    return { cpus: info.NCPU, memoryBytes: info.MemTotal };
  }

  /**
   * The arguments the engine passes to a runtime it has registered (daemon.json's `runtimeArgs`),
   * or null when it knows no runtime of that name.
   */
  async runtimeArgs(runtime: string): Promise<readonly string[] | null> {
    const info = (await this.docker.info()) as {
      Runtimes?: Record<string, { path?: string; runtimeArgs?: string[] } | undefined>;
    };
    const entry = info.Runtimes?.[runtime];
    return entry === undefined ? null : (entry.runtimeArgs ?? []);
  }

  /** The overlay upper dir of a created container (where its writes land), if the driver has one. */
  async upperDir(containerId: string): Promise<string | null> {
    const inspected = await this.docker.getContainer(containerId).inspect();
    const data = inspected.GraphDriver?.Data as Record<string, string> | undefined;
    return data?.UpperDir ?? null;
  }
}

/**
 * Whether runtime arguments switch the sandbox's network off inside the runtime, whatever Docker
 * attaches: gVisor's runsc registered with `--network=none` (its own network stack gets no
 * interface) gives every container only `lo`.
 */
export function runtimeDisablesNetwork(args: readonly string[]): boolean {
  return args.some(
    (arg, i) =>
      /^--?network=none$/.test(arg) || (/^--?network$/.test(arg) && args[i + 1] === 'none'),
  );
}
