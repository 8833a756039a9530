import type { SandboxInfo, SandboxSpec } from '../sandbox-info';

/** Test data only (not exported by the library): a complete, valid SandboxInfo. */
export function makeSandboxInfo(overrides: Partial<SandboxInfo> = {}): SandboxInfo {
  return {
    id: 'sbx-test',
    name: null,
    state: 'pending',
    operation: 'starting',
    image: 'alpine:3.20',
    cpus: 1,
    memoryBytes: 268_435_456,
    envKeys: ['TOKEN'],
    labels: {},
    ports: {},
    host: null,
    containerId: null,
    instanceId: 'test-instance',
    idleTimeoutSeconds: 1800,
    autoDeleteSeconds: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    startedAt: null,
    stoppedAt: null,
    deletedAt: null,
    failureReason: null,
    stateHistory: [],
    autoStopAt: null,
    autoDeleteAt: null,
    protected: false,
    maxLifetimeSeconds: null,
    lastActivityAt: null,
    pidsLimit: null,
    runtime: 'runc',
    disk: null,
    logDirQuota: null,
    fromPool: false,
    ...overrides,
  };
}

export function makeSandboxSpec(overrides: Partial<SandboxSpec> = {}): SandboxSpec {
  return {
    image: 'alpine:3.20',
    cpus: 1,
    memoryBytes: 268_435_456,
    env: { TOKEN: 'secret-value' },
    labels: {},
    ports: [],
    command: null,
    entrypoint: null,
    idleTimeoutSeconds: 1800,
    autoDeleteSeconds: null,
    maxLifetimeSeconds: null,
    pidsLimit: null,
    diskBytes: null,
    disk: null,
    runtime: 'runc',
    ...overrides,
  };
}
