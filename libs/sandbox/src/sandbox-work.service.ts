import type { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import { DockerConfig, ExecConfig, FilesConfig } from '@app/config';
import { Actor, CodedError, validationError } from '@app/domain';
import {
  DockerDeployment,
  ExecEvent,
  ExecRequest,
  ExecResult,
  FileInfo,
  FileRead,
} from '@app/deployment';
import type { SandboxInfo } from '@app/domain';
import { SandboxOwnership } from './sandbox-ownership';
import { SandboxService } from './sandbox.service';
import { Capability, capabilityRefusal, capabilityVerdict } from './sandbox.machine';

export interface ExecInput {
  /** argv, or one string run by `sh -c`. */
  command: string[] | string;
  env?: Record<string, string>;
  cwd?: string;
  user?: string;
  /** Text (written as UTF-8) or bytes, passed through exactly. */
  stdin?: string | Uint8Array;
  timeoutSeconds?: number;
}

export interface PortBinding {
  containerPort: number;
  hostAddress: string;
  hostPort: number;
}

/**
 * Work inside a sandbox: commands and files through Docker's exec and archive APIs, so any image
 * works without an agent inside it. Which states allow what is the machine's (`stateAllows`):
 * exec and writes need a running sandbox; reads also work on a stopped one (Docker reads a
 * stopped container's file system). Every call counts as activity. Every call takes the caller's
 * Actor and reaches only a sandbox it may see (SandboxService.get): another tenant's sandbox is
 * SANDBOX_NOT_FOUND.
 */
@Injectable()
export class SandboxWorkService {
  constructor(
    private readonly execConfig: ExecConfig,
    private readonly filesConfig: FilesConfig,
    private readonly dockerConfig: DockerConfig,
    private readonly deployment: DockerDeployment,
    private readonly sandboxes: SandboxService,
    private readonly ownership: SandboxOwnership,
  ) {}

  async exec(
    actor: Actor,
    idOrName: string,
    input: ExecInput,
    signal?: AbortSignal,
  ): Promise<ExecResult> {
    const { containerId, request } = await this.execTarget(actor, idOrName, input);
    return this.deployment.exec(containerId, request, signal);
  }

  async execStream(
    actor: Actor,
    idOrName: string,
    input: ExecInput,
    signal?: AbortSignal,
  ): Promise<AsyncIterable<ExecEvent>> {
    const { containerId, request } = await this.execTarget(actor, idOrName, input);
    return this.deployment.execStream(containerId, request, signal);
  }

  /** `size` (the request's Content-Length) lets the body stream straight into the sandbox. */
  async writeFile(
    actor: Actor,
    idOrName: string,
    path: string,
    data: Readable | Buffer,
    options: { mode?: number; size?: number; signal?: AbortSignal } = {},
  ): Promise<FileInfo> {
    const containerId = await this.runningContainer(actor, idOrName, 'writeFiles');
    return this.deployment.writeFile(containerId, path, data, {
      ...options,
      maxBytes: this.filesConfig.sizeLimitBytes,
    });
  }

  /** A file's content as a stream, or a directory's listing. */
  async read(
    actor: Actor,
    idOrName: string,
    path: string,
    signal?: AbortSignal,
  ): Promise<FileRead> {
    const info = await this.sandboxes.get(actor, idOrName);
    const containerId = this.allowed(info, 'readFiles');
    void this.sandboxes.recordActivity(actor, info.id);
    return this.deployment.readFile(containerId, path, {
      maxBytes: this.filesConfig.sizeLimitBytes,
      signal,
    });
  }

  /** What a path names (type, size, mode, times), where files can be read; nothing is read. */
  async stat(
    actor: Actor,
    idOrName: string,
    path: string,
    signal?: AbortSignal,
  ): Promise<FileInfo> {
    const info = await this.sandboxes.get(actor, idOrName);
    const containerId = this.allowed(info, 'readFiles');
    void this.sandboxes.recordActivity(actor, info.id);
    return this.deployment.statFile(containerId, path, signal);
  }

  async deleteFile(actor: Actor, idOrName: string, path: string): Promise<void> {
    const containerId = await this.runningContainer(actor, idOrName, 'deleteFiles');
    await this.deployment.deleteFile(containerId, path);
  }

  async ports(actor: Actor, idOrName: string): Promise<PortBinding[]> {
    const info = await this.sandboxes.get(actor, idOrName);
    return Object.entries(info.ports).map(([containerPort, hostPort]) => ({
      containerPort: Number(containerPort),
      hostAddress: info.host ?? this.dockerConfig.portBindAddress,
      hostPort,
    }));
  }

  private async runningContainer(
    actor: Actor,
    idOrName: string,
    capability: Capability,
  ): Promise<string> {
    return (await this.runningSandbox(actor, idOrName, capability)).containerId;
  }

  private async runningSandbox(
    actor: Actor,
    idOrName: string,
    capability: Capability,
  ): Promise<{ info: SandboxInfo; containerId: string }> {
    const info = await this.sandboxes.get(actor, idOrName);
    const containerId = this.allowed(info, capability);
    void this.sandboxes.recordActivity(actor, info.id);
    return { info, containerId };
  }

  /**
   * The container and the exec request. A sandbox from the warm pool got its container before
   * its env was known, so that env is given to every command instead (the command's own env
   * still wins, as it would over a container's env).
   */
  private async execTarget(
    actor: Actor,
    idOrName: string,
    input: ExecInput,
  ): Promise<{ containerId: string; request: ExecRequest }> {
    const { info, containerId } = await this.runningSandbox(actor, idOrName, 'exec');
    const request = this.toRequest(input);
    if (info.fromPool && info.envKeys.length > 0) {
      request.env = { ...(await this.sandboxes.envOf(actor, info.id)), ...request.env };
    }
    return { containerId, request };
  }

  /** The container, if the machine's state allows the work (its tags, no snapshot loaded). */
  private allowed(info: SandboxInfo, capability: Capability): string {
    // Cluster mode: another node's container is not on this engine (the edge forwards such work).
    if (!this.ownership.owns(info)) throw this.ownership.notOwned(info);
    const verdict = capabilityVerdict(info, capability);
    if (verdict.verdict === 'accepted' && info.containerId !== null) return info.containerId;
    const refusal = verdict.verdict === 'refused' ? verdict : capabilityRefusal(info, capability);
    throw new CodedError(refusal.code, refusal.message, refusal.details);
  }

  private toRequest(input: ExecInput): ExecRequest {
    const timeoutSeconds = input.timeoutSeconds ?? this.execConfig.defaultTimeoutSeconds;
    if (timeoutSeconds > this.execConfig.maxTimeoutSeconds) {
      throw validationError(
        'timeoutSeconds',
        `must be at most EXEC_MAX_TIMEOUT_SECONDS (${this.execConfig.maxTimeoutSeconds})`,
      );
    }
    return {
      argv: typeof input.command === 'string' ? ['sh', '-c', input.command] : input.command,
      env: input.env,
      cwd: input.cwd,
      user: input.user,
      stdin: bytesOrText(input.stdin),
      timeoutMs: timeoutSeconds * 1000,
      outputLimitBytes: this.execConfig.outputLimitBytes,
    };
  }
}

function bytesOrText(stdin: string | Uint8Array | undefined): string | Buffer | undefined {
  if (stdin === undefined || typeof stdin === 'string') return stdin;
  return Buffer.isBuffer(stdin) ? stdin : Buffer.from(stdin.buffer, stdin.byteOffset, stdin.length);
}
