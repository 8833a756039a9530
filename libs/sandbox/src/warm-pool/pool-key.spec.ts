import { loadConfig } from '@app/config';
import { toSandboxSpec } from '../create-sandbox.input';
import { normalizeImage, poolKeyOf } from './pool-key';

describe('normalizeImage', () => {
  it.each([
    ['busybox', 'busybox:latest'],
    ['busybox:1.36', 'busybox:1.36'],
    ['sandboxd/demo', 'sandboxd/demo:latest'],
    ['registry:5000/team/app', 'registry:5000/team/app:latest'],
    ['registry:5000/team/app:2', 'registry:5000/team/app:2'],
    ['app@sha256:abc', 'app@sha256:abc'],
  ])('%s → %s', (image, normalized) => {
    expect(normalizeImage(image)).toBe(normalized);
  });
});

describe('poolKeyOf', () => {
  const config = loadConfig({});
  const poolSpec = toSandboxSpec({ image: 'sandboxd/demo:latest' }, config.resources);
  const keyOf = (input: Parameters<typeof toSandboxSpec>[0], network = 'sandboxd') =>
    poolKeyOf(toSandboxSpec(input, config.resources), network);

  it('matches a default create of the same image, however the tag is spelled', () => {
    expect(poolKeyOf(poolSpec, 'sandboxd')).toMatch(/^[0-9a-f]{16}$/);
    expect(keyOf({ image: 'sandboxd/demo' })).toBe(poolKeyOf(poolSpec, 'sandboxd'));
  });

  it('ignores what can be applied after start: env, labels, name and lifecycle settings', () => {
    const key = keyOf({
      image: 'sandboxd/demo',
      name: 'agent-1',
      env: { TOKEN: 'x' },
      labels: { team: 'rl' },
      idleTimeoutSeconds: 60,
      maxLifetimeSeconds: 600,
      autoDeleteSeconds: 0,
      protected: true,
    });
    expect(key).toBe(poolKeyOf(poolSpec, 'sandboxd'));
  });

  it('tells apart anything fixed at container create', () => {
    const key = poolKeyOf(poolSpec, 'sandboxd');
    expect(keyOf({ image: 'other' })).not.toBe(key);
    expect(keyOf({ image: 'sandboxd/demo', cpus: 0.5 })).not.toBe(key);
    expect(keyOf({ image: 'sandboxd/demo', memory: '256m' })).not.toBe(key);
    expect(keyOf({ image: 'sandboxd/demo', pidsLimit: 64 })).not.toBe(key);
    expect(keyOf({ image: 'sandboxd/demo', disk: '1g' })).not.toBe(key);
    expect(keyOf({ image: 'sandboxd/demo', runtime: 'runsc' })).not.toBe(key);
    expect(keyOf({ image: 'sandboxd/demo', network: 'none' })).not.toBe(key);
  });

  it('tells apart members on another SANDBOX_NETWORK, but not `none` ones', () => {
    expect(keyOf({ image: 'sandboxd/demo' }, 'other-net')).not.toBe(
      poolKeyOf(poolSpec, 'sandboxd'),
    );
    expect(keyOf({ image: 'sandboxd/demo', network: 'none' }, 'other-net')).toBe(
      keyOf({ image: 'sandboxd/demo', network: 'none' }),
    );
  });

  it('has no pool for ports or an own command or entrypoint', () => {
    expect(keyOf({ image: 'sandboxd/demo', ports: [8080] })).toBeNull();
    expect(keyOf({ image: 'sandboxd/demo', command: ['sleep', '1'] })).toBeNull();
    expect(keyOf({ image: 'sandboxd/demo', entrypoint: ['/init'] })).toBeNull();
  });
});
