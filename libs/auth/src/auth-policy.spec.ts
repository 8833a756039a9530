import { AuthConfig, isLoopbackHost, loadConfig } from '@app/config';
import { digestOf } from './api-key-format';
import { resolveAuthPolicy } from './auth-policy';

const ADMIN = 'x'.repeat(32);
const auth = (env: Record<string, string>) => loadConfig(env).auth;

describe('the secure default', () => {
  it('should turn auth on whenever ADMIN_API_KEY is set, on any HOST', () => {
    for (const host of ['127.0.0.1', '0.0.0.0', '::']) {
      const policy = resolveAuthPolicy(auth({ ADMIN_API_KEY: ADMIN }), host);
      expect(policy.mode).toBe('on');
      expect(policy.enabled).toBe(true);
      expect(policy.adminKeyDigest?.equals(digestOf(ADMIN))).toBe(true);
      expect(policy.metricsPublic).toBe(false);
    }
    expect(
      resolveAuthPolicy(auth({ ADMIN_API_KEY: ADMIN, METRICS_PUBLIC: 'true' }), '0.0.0.0')
        .metricsPublic,
    ).toBe(true);
  });

  it('should run with auth off on a loopback HOST without a key', () => {
    const policy = resolveAuthPolicy(auth({}), '127.0.0.1');
    expect(policy.mode).toBe('off-loopback');
    expect(policy.enabled).toBe(false);
    expect(policy.adminKeyDigest).toBeNull();
  });

  it('should refuse to load a non-loopback HOST without a key, naming ADMIN_API_KEY', () => {
    for (const host of ['0.0.0.0', '::', '10.1.2.3', 'sandboxd.example']) {
      expect(() => loadConfig({ HOST: host })).toThrow(/HOST=.* ADMIN_API_KEY is not set/);
      // A configuration made by hand is checked again.
      expect(() => resolveAuthPolicy(auth({}), host)).toThrow(/ADMIN_API_KEY/);
    }
  });

  it('should run without auth on a non-loopback HOST only with AUTH_DISABLED=true', () => {
    const config = loadConfig({ HOST: '0.0.0.0', AUTH_DISABLED: 'true' });
    expect(resolveAuthPolicy(config.auth, config.server.host).mode).toBe('off-explicitly');
    expect(() =>
      loadConfig({ HOST: '0.0.0.0', AUTH_DISABLED: 'true', ADMIN_API_KEY: ADMIN }),
    ).toThrow(/contradict/);
    const contradiction: AuthConfig = { ...auth({ ADMIN_API_KEY: ADMIN }), authDisabled: true };
    expect(() => resolveAuthPolicy(contradiction, '127.0.0.1')).toThrow(/contradict/);
  });

  it('should refuse a short or non-ASCII admin key without echoing it', () => {
    for (const bad of ['short-key', `${'é'.repeat(40)}`, `${ADMIN} with spaces`]) {
      expect(() => loadConfig({ ADMIN_API_KEY: bad })).toThrow(/ADMIN_API_KEY must be 32-512/);
      try {
        loadConfig({ ADMIN_API_KEY: bad });
      } catch (error) {
        expect(String(error)).not.toContain(bad);
      }
    }
  });

  it('should know which hosts are loopback', () => {
    for (const host of ['127.0.0.1', '127.8.9.10', 'localhost', 'LOCALHOST', '::1', '[::1]']) {
      expect(isLoopbackHost(host)).toBe(true);
    }
    expect(isLoopbackHost('::ffff:127.0.0.1')).toBe(true);
    for (const host of ['0.0.0.0', '::', '192.168.1.2', '128.0.0.1', 'example.com', '']) {
      expect(isLoopbackHost(host)).toBe(false);
    }
  });
});
