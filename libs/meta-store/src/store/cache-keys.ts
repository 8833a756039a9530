/** The live snapshot of a sandbox (picked SandboxInfo JSON); present only while pending/running. */
export function aliveKey(sandboxId: string): string {
  return `sandbox:${sandboxId}:alive`;
}

/** The idle clock of a live sandbox: `{"idleTimeoutSeconds":n,"expiresAt":"ISO"}`. */
export function timeoutKey(sandboxId: string): string {
  return `sandbox:${sandboxId}:timeout`;
}
