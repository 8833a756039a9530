import { loadConfig } from '@app/config';
import type { SwarmFacts } from '@app/deployment';
import type { ClusterNodeStore } from '@app/meta-store';
import { ClusterDirectory } from './cluster-directory';

function directory(env: Record<string, string>): ClusterDirectory {
  const config = loadConfig({ SQLITE_PATH: ':memory:', ...env });
  return new ClusterDirectory(
    config.cluster,
    config.docker,
    config.server,
    config.e2b,
    {} as SwarmFacts,
    {} as ClusterNodeStore,
  );
}

describe('ClusterDirectory', () => {
  it('advertises nothing with cluster mode off, whatever else is set', () => {
    const off = directory({ E2B_PORT: '49983', CLUSTER_ADVERTISE_SUBNET: '203.0.113.0/24' });
    expect(off.enabled).toBe(false);
    expect(off.e2bUrl).toBeNull();
  });

  it('advertises its API and, with E2B_PORT, its E2B listener on the same host', () => {
    const on = directory({
      CLUSTER: 'swarm',
      CLUSTER_SECRET: 's'.repeat(32),
      CLUSTER_ADVERTISE_URL: 'http://10.0.0.5:8080',
      E2B_PORT: '49983',
    });
    expect(on.apiUrl).toBe('http://10.0.0.5:8080');
    expect(on.e2bUrl).toBe('http://10.0.0.5:49983');
  });

  it('stops the boot when the advertise subnet has no address of this host', () => {
    expect(() =>
      directory({
        CLUSTER: 'swarm',
        CLUSTER_SECRET: 's'.repeat(32),
        CLUSTER_ADVERTISE_SUBNET: '203.0.113.0/24',
      }),
    ).toThrow(/CLUSTER_ADVERTISE_SUBNET 203\.0\.113\.0\/24: this host has no address in it/);
  });
});
