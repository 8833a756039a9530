import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from './load-config';

describe('loadConfig', () => {
  it('gives every slice its defaults on an empty environment', () => {
    const config = loadConfig({});
    expect({ ...config.server }).toEqual({ host: '127.0.0.1', port: 8080, logLevel: 'log' });
    expect({ ...config.store }).toEqual({
      databaseUrl: undefined,
      sqlitePath: join('data', 'sandboxd.sqlite'),
      secretsKey: null,
      redisUrl: undefined,
      redisKeyPrefix: 'sandboxd:',
    });
    expect({ ...config.lock }).toEqual({ ttlMs: 30_000, waitMs: 60_000 });
    expect({ ...config.docker }).toEqual({
      socketPath: '/var/run/docker.sock',
      instanceId:
        hostname()
          .replace(/[^a-zA-Z0-9_.-]/g, '-')
          .slice(0, 63) || 'sandboxd',
      portRange: { from: 30000, to: 39999 },
      portBindAddress: '127.0.0.1',
      keepAliveCommand: ['sleep', 'infinity'],
      stopTimeoutSeconds: 10,
      imagePullTimeoutSeconds: 300,
      callTimeoutsMs: {
        create: 120_000,
        start: 120_000,
        stop: 30_000,
        remove: 120_000,
        inspect: 30_000,
        execStart: 30_000,
      },
      registryAllowlist: [],
      sandboxNetwork: 'sandboxd',
      capAdd: [],
    });
    expect({ ...config.lifecycle }).toEqual({
      autoDeleteAfterSeconds: 86400,
      activityIncludesReads: false,
      startupTimeoutSeconds: 300,
      waitTimeoutSeconds: 120,
    });
    expect({ ...config.resources }).toEqual({
      defaultCpus: 1,
      defaultMemory: '1g',
      defaultPidsLimit: 1024,
      defaultDisk: null,
      maxCpus: null,
      maxMemory: null,
      maxDisk: null,
      overcommitCpu: 4,
      overcommitMemory: 1.5,
      diskLimitPolicy: 'warn',
      defaultIdleTimeoutSeconds: 1800,
      allowedRuntimes: ['runc'],
    });
    expect({ ...config.exec }).toEqual({
      outputLimitBytes: 10 * 1024 * 1024,
      outputBudgetBytes: 256 * 1024 * 1024,
      defaultTimeoutSeconds: 60,
      maxTimeoutSeconds: 3600,
    });
    expect({ ...config.files }).toEqual({ sizeLimitBytes: 100 * 1024 * 1024 });
    expect({ ...config.scheduler }).toEqual({
      enabled: true,
      intervalSeconds: 10,
      reconcileIntervalSeconds: 60,
      dockerEvents: true,
      orphanGraceSeconds: 60,
      batchSize: 100,
      concurrency: 4,
    });
    expect({ ...config.pool }).toEqual({ entries: [], removeOnShutdown: true });
    expect({ ...config.logDir }).toEqual({
      root: resolve('data', 'logs'),
      mountPath: '/data/logs',
    });
  });

  it('reads an empty string of a text variable as unset', () => {
    const config = loadConfig({ HOST: '', LOG_ROOT: ' ', DISK_LIMIT_POLICY: '', WARM_POOL: '' });
    expect(config.server.host).toBe('127.0.0.1');
    expect(config.logDir.root).toBe(resolve('data', 'logs'));
    expect(config.resources.diskLimitPolicy).toBe('warn');
    expect(config.pool.entries).toEqual([]);
  });

  it('converts what it reads into each slice', () => {
    const config = loadConfig({
      LOCK_TTL_SECONDS: '5',
      DEFAULT_PIDS_LIMIT: '-1',
      ALLOWED_RUNTIMES: 'runc,kata',
      REGISTRY_ALLOWLIST: 'registry.local:5000,10.0.0.0/8',
      KEEPALIVE_COMMAND: '["tail","-f","/dev/null"]',
      SCHEDULER_ENABLED: 'false',
      DOCKER_EVENTS: 'false',
      ACTIVITY_INCLUDES_READS: 'true',
      PORT_RANGE: '40000-40009',
    });
    expect(config.lock.ttlMs).toBe(5000);
    expect(config.resources.defaultPidsLimit).toBeNull();
    expect(config.resources.allowedRuntimes).toEqual(['runc', 'kata']);
    expect(config.docker.registryAllowlist).toEqual(['registry.local:5000', '10.0.0.0/8']);
    expect(config.docker.keepAliveCommand).toEqual(['tail', '-f', '/dev/null']);
    expect(config.scheduler.enabled).toBe(false);
    expect(config.scheduler.dockerEvents).toBe(false);
    expect(config.lifecycle.activityIncludesReads).toBe(true);
    expect(config.docker.portRange).toEqual({ from: 40000, to: 40009 });
  });

  it('names every bad variable of every slice in one error', () => {
    let message = '';
    try {
      loadConfig({
        PORT: '70000',
        LOCK_TTL_SECONDS: '1',
        PORT_RANGE: '5-1',
        KEEPALIVE_COMMAND: '[1]',
        WARM_POOL: 'busybox',
        SECRETS_KEY: 'abc',
        DISK_LIMIT_POLICY: 'maybe',
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^Invalid environment: /);
    for (const expected of [
      'PORT must not be greater than 65535',
      'LOCK_TTL_SECONDS must not be less than 2',
      'PORT_RANGE 5-1 must be 1-65535 with from <= to',
      'KEEPALIVE_COMMAND must be a non-empty JSON string array',
      'WARM_POOL entry "busybox" must look like image:size',
      'SECRETS_KEY must be 32 random bytes',
      'DISK_LIMIT_POLICY must be reject or warn',
    ]) {
      expect(message).toContain(expected);
    }
    expect(message.match(/Invalid environment/g)).toHaveLength(1);
  });

  it('reads the sandbox network and the capabilities given back', () => {
    const defaults = loadConfig({});
    expect(defaults.docker.sandboxNetwork).toBe('sandboxd');
    expect(defaults.docker.capAdd).toEqual([]);
    const config = loadConfig({
      SANDBOX_NETWORK: 'agents.net-1',
      SANDBOX_CAP_ADD: ' net_raw, CAP_SYS_CHROOT,NET_RAW ',
    });
    expect(config.docker.sandboxNetwork).toBe('agents.net-1');
    // Upper-case, without CAP_, each once.
    expect(config.docker.capAdd).toEqual(['NET_RAW', 'SYS_CHROOT']);
  });

  it.each([
    ['SANDBOX_CAP_ADD', 'NET_RAW,FLY', 'SANDBOX_CAP_ADD: FLY is not a Linux capability'],
    ['SANDBOX_CAP_ADD', 'ALL', 'SANDBOX_CAP_ADD: ALL is not a Linux capability'],
    ['SANDBOX_NETWORK', 'bridge', 'SANDBOX_NETWORK must not be Docker\'s own "bridge" network'],
    ['SANDBOX_NETWORK', 'Host', 'SANDBOX_NETWORK must not be Docker\'s own "Host" network'],
    ['SANDBOX_NETWORK', '-x', 'SANDBOX_NETWORK must be 1-63 letters, digits, _ . -'],
  ])('refuses %s=%s, naming it', (name, value, expected) => {
    expect(() => loadConfig({ [name]: value })).toThrow(expected);
  });

  it('refuses a malformed PORT_RANGE with the format it wants', () => {
    expect(() => loadConfig({ PORT_RANGE: 'abc' })).toThrow(
      /^Invalid environment: PORT_RANGE must look like 30000-39999$/,
    );
  });
});
