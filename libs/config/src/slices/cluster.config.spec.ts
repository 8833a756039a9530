import { loadConfig } from '../load-config';

describe('the cluster configuration', () => {
  const secret = 's'.repeat(32);

  it('is off by default, and off needs nothing', () => {
    const { cluster } = loadConfig({});
    expect(cluster.enabled).toBe(false);
    expect(cluster.nodeLostMs).toBe(60_000);
    expect(cluster.heartbeatMs).toBe(5_000);
  });

  it('needs a long enough CLUSTER_SECRET in swarm mode', () => {
    expect(() => loadConfig({ CLUSTER: 'swarm' })).toThrow(/CLUSTER=swarm needs CLUSTER_SECRET/);
    expect(() => loadConfig({ CLUSTER: 'swarm', CLUSTER_SECRET: 'short' })).toThrow(
      /CLUSTER_SECRET must be at least 32 characters/,
    );
    expect(loadConfig({ CLUSTER: 'swarm', CLUSTER_SECRET: secret }).cluster.secret).toBe(secret);
  });

  it('refuses a node loss quicker than two heartbeats, and malformed addresses', () => {
    const swarm = { CLUSTER: 'swarm', CLUSTER_SECRET: secret };
    expect(() =>
      loadConfig({ ...swarm, CLUSTER_HEARTBEAT_SECONDS: '5', NODE_LOST_SECONDS: '10' }),
    ).toThrow(/more than twice/);
    expect(() => loadConfig({ ...swarm, CLUSTER_ADVERTISE_URL: 'http://h:1/path' })).toThrow(
      /CLUSTER_ADVERTISE_URL must be http\(s\):\/\/host:port/,
    );
    expect(() => loadConfig({ ...swarm, CLUSTER_ADVERTISE_SUBNET: '10.0.0.0' })).toThrow(
      /CLUSTER_ADVERTISE_SUBNET must be an IPv4 CIDR/,
    );
    expect(() => loadConfig({ CLUSTER: 'kubernetes' })).toThrow(/CLUSTER must be off or swarm/);
  });
});
