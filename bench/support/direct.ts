import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { ConfigSlices } from '@app/config';
import {
  buildContainerConfig,
  ContainerSpec,
  LABEL_INSTANCE,
  SandboxNetwork,
} from '@app/deployment';
import { ensureLogDir, removeLogDir } from '@app/quota';
import type Dockerode from 'dockerode';
import { parseMemorySize } from '@app/sandbox';

/** What a benchmark asks the API for; the direct baseline builds the same container from it. */
export interface SandboxRequest {
  image: string;
  cpus: number;
  memory: string;
  ports: number[];
}

/**
 * The baseline: the same container the service would build for `request` (buildContainerConfig
 * from the deployment library: Init, no-new-privileges, the capability set, the sandbox network, memory/swap, NanoCpus, pids limit, runtime,
 * keep-alive entrypoint, our labels, the log directory bind mount, one published port on
 * 127.0.0.1), created and started with plain dockerode calls and nothing else: no record, no lock,
 * no port scan, no start-up grace period.
 */
export class DirectSandboxes {
  private nextPort: number;
  /** The service's sandbox network: the baseline's containers join it too (looked up once). */
  private readonly network: SandboxNetwork;

  constructor(
    private readonly docker: Dockerode,
    private readonly config: ConfigSlices,
    /** Host ports for the baseline, outside the service's PORT_RANGE. */
    private readonly portRange: { from: number; to: number },
  ) {
    this.nextPort = portRange.from;
    this.network = new SandboxNetwork(
      docker,
      config.docker.sandboxNetwork,
      config.docker.instanceId,
      config.docker.callTimeoutsMs,
    );
  }

  newId(): string {
    return `bench${randomBytes(8).toString('hex')}`;
  }

  /**
   * A free host port from the baseline range (probed with a bind, outside any timed section):
   * ports cycle through the range, so one freed by a removed container is reused much later.
   */
  async reservePort(): Promise<number> {
    const size = this.portRange.to - this.portRange.from + 1;
    for (let tries = 0; tries < Math.min(size, 200); tries += 1) {
      const port = this.nextPort;
      this.nextPort = port >= this.portRange.to ? this.portRange.from : port + 1;
      if (await isFree(port)) return port;
    }
    throw new Error(`no free port in ${this.portRange.from}-${this.portRange.to}`);
  }

  /** The create request the service would send for this sandbox. */
  spec(sandboxId: string, request: SandboxRequest, logDir: string): ContainerSpec {
    return {
      sandboxId,
      image: request.image,
      cpus: request.cpus,
      memoryBytes: parseMemorySize(request.memory),
      env: {},
      labels: {},
      ports: [...request.ports],
      command: null,
      entrypoint: null,
      pidsLimit: this.config.resources.defaultPidsLimit,
      storageBytes: null,
      logMount: { hostPath: logDir, containerPath: this.config.logDir.mountPath },
      runtime: this.config.resources.allowedRuntimes[0],
    };
  }

  /**
   * Log dir, `docker create`, `docker start`: what the service's provisioning boils down to. A
   * container that was created but failed to start is removed before the error propagates.
   */
  async createAndStart(
    sandboxId: string,
    request: SandboxRequest,
    hostPorts: readonly number[],
  ): Promise<string> {
    if (hostPorts.length !== request.ports.length) throw new Error('one host port per port');
    const logDir = await ensureLogDir(this.config.logDir.root, sandboxId);
    const options = buildContainerConfig(
      this.spec(sandboxId, request, logDir),
      new Map(request.ports.map((port, i) => [port, hostPorts[i]])),
      this.config.docker,
      await this.network.id(),
    );
    const container = await this.docker.createContainer(options);
    try {
      await container.start();
    } catch (error) {
      await container.remove({ force: true, v: true }).catch(() => undefined);
      throw error;
    }
    return container.id;
  }

  /** `docker stop` with the service's STOP_TIMEOUT_SECONDS. */
  async stop(containerId: string): Promise<void> {
    await this.docker.getContainer(containerId).stop({ t: this.config.docker.stopTimeoutSeconds });
  }

  /** `docker start` of a stopped container (what a restart is). */
  async start(containerId: string): Promise<void> {
    await this.docker.getContainer(containerId).start();
  }

  /** `docker rm -f -v`, and the log directory, as the service's delete does. */
  async remove(containerId: string, sandboxId: string): Promise<void> {
    await this.docker.getContainer(containerId).remove({ force: true, v: true });
    await removeLogDir(this.config.logDir.root, sandboxId);
  }
}

/** Containers of any state carrying this instance label. */
export async function labelledContainers(docker: Dockerode, instanceId: string): Promise<number> {
  const listed = await docker.listContainers({
    all: true,
    filters: { label: [`${LABEL_INSTANCE}=${instanceId}`] },
  });
  return listed.length;
}

/** Engine timestamps of a container, as epoch milliseconds (null when not reached yet). */
export interface EngineTimes {
  createdMs: number | null;
  startedMs: number | null;
  finishedMs: number | null;
}

export async function engineTimes(docker: Dockerode, containerId: string): Promise<EngineTimes> {
  const info = await docker.getContainer(containerId).inspect();
  return {
    createdMs: parseEngineTime(info.Created),
    startedMs: parseEngineTime(info.State.StartedAt),
    finishedMs: parseEngineTime(info.State.FinishedAt),
  };
}

/**
 * Docker's RFC 3339 times carry nanoseconds ("…:05.123456789Z"); kept to the microsecond as
 * fractional milliseconds. The zero time ("0001-01-01…") means never.
 */
export function parseEngineTime(value: string | undefined): number | null {
  if (!value || value.startsWith('0001-01-01')) return null;
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(value);
  if (!match) return null;
  const whole = Date.parse(`${match[1]}${match[3]}`);
  const fraction = Number(`0.${(match[2] ?? '0').slice(0, 6)}`);
  return Number.isNaN(whole) ? null : whole + fraction * 1000;
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}
