import { loadConfig } from '@app/config';
import { CodedError } from '@app/domain';
import type { DockerDeployment, EngineFacts } from '@app/deployment';
import type { QuotaService } from '@app/quota';
import type { SandboxMetaStore, TenantLimitsStore } from '@app/meta-store';
import { ContainerProvisioner } from '../container-provisioner';
import { toSandboxSpec } from '../create-sandbox.input';
import { SandboxMetrics } from '../sandbox-metrics';
import { SandboxResources } from '../sandbox-resources';
import {
  FakeDeployment,
  FakeEngine,
  FakeMetaStore,
  FakeQuota,
  FakeTenantLimits,
} from '../testing/fakes';
import { PoolMetrics } from './pool-metrics';
import { WarmPool } from './warm-pool';

function build(env: Record<string, string> = {}) {
  const config = loadConfig({ INSTANCE_ID: 'unit', WARM_POOL: 'img:2', ...env });
  const store = new FakeMetaStore() as unknown as SandboxMetaStore;
  const deployment = new FakeDeployment();
  const asReal = deployment as unknown as DockerDeployment;
  const engine = new FakeEngine() as unknown as EngineFacts;
  const quota = new FakeQuota() as unknown as QuotaService;
  const resources = new SandboxResources(
    config.resources,
    engine,
    quota,
    store,
    new FakeTenantLimits() as unknown as TenantLimitsStore,
  );
  const metrics = new SandboxMetrics(store);
  const pool = new WarmPool(
    config.pool,
    config.docker,
    config.resources,
    asReal,
    new ContainerProvisioner(config.logDir, asReal, engine, quota),
    store,
    resources,
    new PoolMetrics(metrics),
  );
  const spec = (input: Partial<Parameters<typeof toSandboxSpec>[0]> = {}) =>
    toSandboxSpec({ image: 'img', ...input }, config.resources);
  /** maintain() checks members and fills; settled() waits for the filler. */
  const fill = async () => {
    await pool.maintain();
    await pool.settled();
  };
  return { pool, deployment, spec, fill, metrics };
}

describe(WarmPool.name, () => {
  it('fills each pool up to its size with started containers', async () => {
    const { pool, deployment, fill } = build();
    await fill();
    expect(pool.status()).toEqual([
      { image: 'img', size: 2, idle: 2, filling: false, lastError: null },
    ]);
    expect(deployment.calls.filter((c) => c === 'provision')).toHaveLength(2);
    expect([...deployment.containers.values()].every((c) => c.running)).toBe(true);
  });

  it('hands out the oldest member to a matching create only, and counts hits and misses', async () => {
    const { pool, deployment, spec, fill, metrics } = build();
    await fill();
    // The fake engine keeps containers in the order they were made.
    const [oldest] = [...deployment.containers.values()];
    expect(pool.take(spec({ memory: '64m' }))).toBeNull();
    expect(pool.take(spec({ ports: [80] }))).toBeNull();
    expect(pool.take(spec())?.sandboxId).toBe(oldest.sandboxId);
    expect(pool.take(spec({ env: { A: '1' }, labels: { x: 'y' } }))).not.toBeNull();
    expect(pool.take(spec())).toBeNull();
    const metric = (name: string) => metrics.registry.getSingleMetricAsString(name);
    const takes = await metric('sandboxd_warm_pool_takes_total');
    expect(takes).toContain('sandboxd_warm_pool_takes_total{image="img",result="hit"} 2');
    expect(takes).toContain('sandboxd_warm_pool_takes_total{image="img",result="miss"} 1');
    expect(await metric('sandboxd_warm_pool_idle')).toContain(
      'sandboxd_warm_pool_idle{image="img"} 0',
    );
  });

  it('refills only when asked, after the create that took a member', async () => {
    const { pool, spec, fill } = build();
    await fill();
    pool.take(spec());
    await pool.settled();
    expect(pool.status()[0].idle).toBe(1);
    pool.refill(spec());
    await pool.settled();
    expect(pool.status()[0].idle).toBe(2);
  });

  it('takes back a member given back, without ever holding more than its size', async () => {
    const { pool, deployment, spec, fill } = build();
    await fill();
    const member = pool.take(spec())!;
    // The refill starts and the member comes back before it finished making a new one.
    pool.refill(spec());
    pool.giveBack(member);
    await pool.settled();
    expect(pool.status()[0].idle).toBe(2);
    expect(pool.take(spec())?.sandboxId).toBe(member.sandboxId);
    // The one made meanwhile was removed again: 2 members made at first, 1 by the refill.
    expect(deployment.calls.filter((c) => c === 'provision')).toHaveLength(3);
    expect(deployment.containers.size).toBe(2);
  });

  it('replaces a member whose container stopped', async () => {
    const { pool, deployment, spec, fill } = build();
    await fill();
    const victim = pool.take(spec())!;
    pool.giveBack(victim);
    await deployment.stop(victim.containerId);
    await fill();
    expect(pool.status()[0].idle).toBe(2);
    expect(deployment.containers.has(victim.containerId)).toBe(false);
    expect(pool.take(spec())?.sandboxId).not.toBe(victim.sandboxId);
  });

  it('reports a failed refill, backs off creates, and recovers on the next check', async () => {
    const { pool, deployment, spec, fill } = build();
    deployment.failNext('provision', new CodedError('IMAGE_UNAVAILABLE', 'no such image img'));
    await fill();
    expect(pool.status()[0]).toMatchObject({ idle: 0, lastError: 'no such image img' });
    // Creates leave it alone for a while; the periodic check tries again.
    pool.refill(spec());
    expect(pool.status()[0].filling).toBe(false);
    await fill();
    expect(pool.status()[0]).toMatchObject({ idle: 2, lastError: null });
  });

  it('removes its idle members on shutdown and hands out nothing after', async () => {
    const { pool, deployment, spec, fill } = build();
    await fill();
    await pool.stop();
    expect(deployment.containers.size).toBe(0);
    expect(pool.take(spec())).toBeNull();
  });

  it('keeps them on shutdown when WARM_POOL_REMOVE_ON_SHUTDOWN=false', async () => {
    const { pool, deployment, fill } = build({ WARM_POOL_REMOVE_ON_SHUTDOWN: 'false' });
    await fill();
    await pool.stop();
    expect(deployment.containers.size).toBe(2);
  });
});
