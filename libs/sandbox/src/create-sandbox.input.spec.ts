import { loadConfig } from '@app/config';
import { fingerprintOf, toSandboxSpec } from './create-sandbox.input';

describe('fingerprintOf', () => {
  it('should not depend on key order', () => {
    expect(fingerprintOf({ image: 'a', env: { X: '1', Y: '2' }, cpus: 1 })).toBe(
      fingerprintOf({ cpus: 1, env: { Y: '2', X: '1' }, image: 'a' }),
    );
  });

  it('should change when any value changes', () => {
    expect(fingerprintOf({ image: 'a', ports: [80] })).not.toBe(
      fingerprintOf({ image: 'a', ports: [81] }),
    );
  });
});

describe('toSandboxSpec', () => {
  it('should fill defaults from the configuration and normalise ports', () => {
    const config = loadConfig({ DEFAULT_IDLE_TIMEOUT_SECONDS: '60' });
    const spec = toSandboxSpec(
      { image: 'img', memory: '1g', ports: [8080, 80, 8080] },
      config.resources,
    );
    expect(spec).toMatchObject({
      image: 'img',
      memoryBytes: 1024 ** 3,
      ports: [80, 8080],
      idleTimeoutSeconds: 60,
      autoDeleteSeconds: null,
      command: null,
      network: 'bridge',
    });
  });

  it('should keep the network asked for', () => {
    const config = loadConfig({});
    expect(toSandboxSpec({ image: 'img', network: 'none' }, config.resources).network).toBe('none');
  });
});
