import { SecretsKey } from '@app/config';
import type { SandboxInfo, SandboxSpec, SealedSandboxSpec } from '@app/domain';
import { SecretsKeyring } from '../secrets/secrets-keyring';

/** Test data only (not exported by the library): a complete, valid SandboxInfo. */
export function makeSandboxInfo(overrides: Partial<SandboxInfo> = {}): SandboxInfo {
  return {
    id: 'sbx-test',
    name: null,
    tenant: null,
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
    node: null,
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
    network: 'bridge',
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
    network: 'bridge',
    ...overrides,
  };
}

/** A fixed key for tests: what SECRETS_KEY would give. Never use it outside tests. */
export const TEST_SECRETS_KEY = '0123456789abcdef'.repeat(4);

export function testKeyring(hexKey = TEST_SECRETS_KEY): SecretsKeyring {
  return new SecretsKeyring(SecretsKey.parse(hexKey), 'the test key');
}

/** makeSandboxSpec as a record holds it, sealed for `sandboxId` with the test key. */
export function makeSealedSandboxSpec(
  overrides: Partial<SandboxSpec> = {},
  sandboxId = 'sbx-test',
): SealedSandboxSpec {
  return testKeyring().sealSpec(sandboxId, makeSandboxSpec(overrides));
}
