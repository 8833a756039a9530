import type { ContainerSpec } from '@app/deployment';
import type { SandboxSpec } from '@app/domain';

/**
 * The container a sandbox spec asks for (without its log mount, which the provisioner adds).
 * Shared by cold creates and the warm pool, so a pool member is made exactly like a cold
 * sandbox of the same request.
 *
 * @param diskEnforced whether the engine enforces `disk` here: Docker refuses --storage-opt
 *   size= on storage that cannot, so the limit is only passed when it can.
 */
export function containerSpecOf(
  sandboxId: string,
  spec: SandboxSpec,
  diskEnforced: boolean,
): ContainerSpec {
  return {
    sandboxId,
    image: spec.image,
    cpus: spec.cpus,
    memoryBytes: spec.memoryBytes,
    env: spec.env,
    labels: spec.labels,
    ports: spec.ports,
    command: spec.command,
    entrypoint: spec.entrypoint,
    pidsLimit: spec.pidsLimit,
    storageBytes: diskEnforced ? spec.diskBytes : null,
    runtime: spec.runtime,
    network: spec.network,
  };
}
