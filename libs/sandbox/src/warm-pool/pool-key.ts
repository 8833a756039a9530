import { createHash } from 'node:crypto';
import type { SandboxSpec } from '@app/domain';

/**
 * `busybox` and `busybox:latest` name the same image; a digest or an explicit tag is kept as is.
 * The tag is looked for after the last slash, so a registry port (`host:5000/app`) is not one.
 */
export function normalizeImage(image: string): string {
  if (image.includes('@')) return image;
  const name = image.slice(image.lastIndexOf('/') + 1);
  return name.includes(':') ? image : `${image}:latest`;
}

/**
 * Which warm pool could serve a create, as a short stable key; null when none can. A pool member
 * is a started container, so only what can still be honoured after start may differ from the
 * pool's spec: env (applied to each exec), labels and the lifecycle settings (kept in the
 * record). Everything fixed at container create must match exactly: image, limits, runtime, the
 * network (for `bridge`, by the name of the network it is on, so members made before a change of
 * SANDBOX_NETWORK, or before sandbox networks, are never taken), and no published ports and no
 * own command or entrypoint (the member runs the keep-alive command).
 *
 * @param sandboxNetwork SANDBOX_NETWORK, the network a `bridge` sandbox is attached to.
 */
export function poolKeyOf(spec: SandboxSpec, sandboxNetwork: string): string | null {
  if (spec.ports.length > 0 || spec.command !== null || spec.entrypoint !== null) return null;
  const fixedAtCreate = [
    normalizeImage(spec.image),
    spec.cpus,
    spec.memoryBytes,
    spec.pidsLimit,
    spec.diskBytes,
    spec.runtime,
    spec.network === 'bridge' ? `bridge:${sandboxNetwork}` : spec.network,
  ];
  return createHash('sha256').update(JSON.stringify(fixedAtCreate)).digest('hex').slice(0, 16);
}
