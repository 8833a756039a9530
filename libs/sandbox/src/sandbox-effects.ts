import { Injectable, Optional } from '@nestjs/common';
import { fromPromise } from 'xstate';
import { LifecycleConfig } from '@app/config';
import { CodedError } from '@app/domain';
import { ContainerState, DockerDeployment, startupGraceMs } from '@app/deployment';
import { SecretsKeyring } from '@app/meta-store';
import type { SandboxRecord } from '@app/domain';
import { ContainerProvisioner } from './container-provisioner';
import { containerSpecOf } from './container-spec';
import { SandboxMetrics } from './sandbox-metrics';
import {
  ContainerFacts,
  ContainerRef,
  LogDirQuotaFacts,
  SandboxMachine,
  SandboxRef,
  sandboxMachine,
} from './sandbox.machine';

/**
 * Supplies the state machine's side effects on the Docker engine. Every effect is idempotent
 * (containers are found by name and label, 304/404 answers count as done) because a restored busy
 * snapshot re-runs the interrupted effect after a crash.
 */
@Injectable()
export class SandboxEffects {
  constructor(
    private readonly config: LifecycleConfig,
    private readonly deployment: DockerDeployment,
    private readonly provisioner: ContainerProvisioner,
    private readonly keyring: SecretsKeyring,
    /** Optional only so unit tests that build the effects by hand need not pass it. */
    @Optional() private readonly metrics?: SandboxMetrics,
  ) {}

  /**
   * @param lockSignal the caller's lock signal: it aborts when the lock is lost, and so aborts the
   * Docker calls of the effect in flight (as does stopping the actor, through its own signal).
   */
  forRecord(record: SandboxRecord, lockSignal?: AbortSignal): SandboxMachine {
    const sandboxId = record.info.id;
    // A failed effect's error (its code, message and details) is kept by the machine itself.
    const track = <I, O>(effect: (input: I, signal: AbortSignal) => Promise<O>) =>
      fromPromise<O, I>(({ input, signal }) =>
        effect(input, lockSignal ? AbortSignal.any([signal, lockSignal]) : signal),
      );
    const containerOf = (containerId: string | null) =>
      containerId ?? this.deployment.containerName(sandboxId);

    return sandboxMachine.provide({
      actors: {
        createContainer: track((_input: SandboxRef, signal) => this.create(record, signal)),
        startContainer: track(async (input: ContainerRef, signal) => {
          const existing = await this.deployment.inspect(containerOf(input.containerId), signal);
          if (!existing) throw missingOnRestart(record, input.containerId);
          // A container of an older release is still on Docker's default bridge: moved now.
          await this.deployment.joinSandboxNetwork(existing, signal);
          await this.provisioner.secureLogDir(sandboxId);
          const graceMs = startupGraceMs(record.spec);
          return factsOf(await this.deployment.start(existing.containerId, graceMs, signal));
        }),
        stopContainer: track(async (input: ContainerRef, signal) => {
          await this.deployment.stop(containerOf(input.containerId), undefined, signal);
        }),
        // The log directory lives as long as the sandbox: kept on stop, gone on delete.
        removeContainer: track(async (input: ContainerRef, signal) => {
          await this.provisioner.remove(sandboxId, containerOf(input.containerId), signal);
        }),
      },
    });
  }

  /**
   * Provisions within STARTUP_TIMEOUT_SECONDS of the create. A create re-run after a crash gets
   * only what is left of that time; past it, the half-made container is removed and the sandbox
   * ends stopped with the reason. A sandbox from the warm pool finds its container running.
   */
  private async create(record: SandboxRecord, signal: AbortSignal): Promise<ContainerFacts> {
    try {
      const facts = await this.provision(record, signal);
      this.metrics?.starts.noteSuccess();
      return facts;
    } catch (error) {
      this.metrics?.starts.noteFailure(record.info.id, error);
      throw error;
    }
  }

  private async provision(record: SandboxRecord, signal: AbortSignal): Promise<ContainerFacts> {
    const limitMs = this.config.startupTimeoutSeconds * 1000;
    const remaining = Date.parse(record.info.createdAt) + limitMs - Date.now();
    const timedOut = () =>
      new CodedError(
        'CONTAINER_FAILED',
        `sandbox did not start within STARTUP_TIMEOUT_SECONDS (${this.config.startupTimeoutSeconds} s)`,
        { sandboxId: record.info.id },
      );
    if (remaining <= 0) {
      await this.deployment.remove(this.deployment.containerName(record.info.id), signal);
      throw timedOut();
    }
    const timeout = AbortSignal.timeout(remaining);
    // The env is opened only here, for Docker; a value the key cannot open fails this create.
    const opened = this.keyring.openSpec(record.info.id, record.spec);
    const spec = containerSpecOf(record.info.id, opened, record.info.disk?.enforced ?? false);
    try {
      const made = await this.provisioner.provision(spec, AbortSignal.any([signal, timeout]));
      // No quota step ran for a container that was already there: keep what the create knew
      // (a pool member's outcome), else say so.
      const logDirQuota = made.logDirQuota ?? record.info.logDirQuota ?? NOT_ATTEMPTED;
      return { ...factsOf(made.state), logDirQuota };
    } catch (error) {
      if (timeout.aborted && !signal.aborted) throw timedOut();
      throw error;
    }
  }
}

/**
 * Why there is no container to restart. A sandbox whose create failed never kept one (the
 * half-made container is removed on failure), which is not the same as someone removing it.
 */
function missingOnRestart(record: SandboxRecord, containerId: string | null): CodedError {
  const sandboxId = record.info.id;
  const reason =
    containerId === null
      ? `its create failed before it had a running container (the half-made container is removed on failure${record.info.failureReason ? `: ${record.info.failureReason}` : ''}); delete it and create a new one`
      : 'its container no longer exists (removed outside sandboxd), so its file system is gone';
  return new CodedError(
    'CONTAINER_MISSING',
    `sandbox ${sandboxId} cannot be restarted: ${reason}`,
    {
      sandboxId,
      reason: containerId === null ? 'create-failed' : 'removed',
    },
  );
}

const NOT_ATTEMPTED: LogDirQuotaFacts = { shared: false, projectId: null, reason: 'not attempted' };

function factsOf(state: ContainerState): ContainerFacts {
  return { containerId: state.containerId, ports: state.ports, host: state.host };
}
