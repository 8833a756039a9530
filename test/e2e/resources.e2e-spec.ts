import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { TestApp, createTestApp, eventually } from '../support/app';
import { DEMO_IMAGE, ensureDemoImage, execIn, testDocker } from '../support/docker';

type Json = Record<string, any>;

describe('resources: limits, log directory, disk policy (real Docker, PostgreSQL, Redis)', () => {
  let t: TestApp;
  let http: ReturnType<typeof request>;
  const docker = testDocker();

  beforeAll(async () => {
    await ensureDemoImage();
    t = await createTestApp('postgres+redis', {
      MAX_CPUS: '2',
      MAX_MEMORY: '1g',
      MAX_DISK: '5g',
      STOP_TIMEOUT_SECONDS: '1',
    });
    http = request(t.app.getHttpServer());
  });

  afterAll(async () => {
    await t?.close();
  });

  async function create(body: Json): Promise<Json> {
    const res = await http
      .post('/v1/sandboxes?wait=true')
      .send({ image: DEMO_IMAGE, ...body })
      .expect(200);
    return res.body as Json;
  }

  it('should apply cpu, memory (no extra swap) and pids limits with defaults', async () => {
    const s = await create({ cpus: 0.5, memory: '128m' });
    expect(s).toMatchObject({ state: 'running', pidsLimit: 1024, runtime: 'runc' });
    const inspected = await docker.getContainer(s.containerId).inspect();
    expect(inspected.HostConfig.NanoCpus).toBe(500_000_000);
    expect(inspected.HostConfig.Memory).toBe(128 * 1024 * 1024);
    expect(inspected.HostConfig.MemorySwap).toBe(128 * 1024 * 1024);
    expect(inspected.HostConfig.PidsLimit).toBe(1024);
    const defaults = await create({});
    const d = await docker.getContainer(defaults.containerId).inspect();
    expect(d.HostConfig.NanoCpus).toBe(1_000_000_000);
    expect(d.HostConfig.Memory).toBe(1024 ** 3);
  });

  it('should stop a fork bomb at the pids limit', async () => {
    const s = await create({ pidsLimit: 40 });
    const result = await execIn(s.containerId, [
      'sh',
      '-c',
      'i=0; while [ $i -lt 200 ]; do sleep 60 & i=$((i+1)); done; echo spawned',
    ]);
    expect(result.output).toMatch(/can't fork|Resource temporarily unavailable/);
    // Counted from the host (docker top): a count from inside would itself need a fork.
    const top = await docker.getContainer(s.containerId).top();
    expect(top.Processes.length).toBeGreaterThan(10);
    expect(top.Processes.length).toBeLessThanOrEqual(40);
    expect((await docker.getContainer(s.containerId).inspect()).State.Running).toBe(true);
  });

  it('should record an OOM kill when a process exceeds the memory limit', async () => {
    const s = await create({
      memory: '16m',
      command: ['sh', '-c', 'sleep 1; x=a; while true; do x="$x$x"; done'],
    });
    const stopped = await eventually(async () => {
      const view = (await http.get(`/v1/sandboxes/${s.id}`).expect(200)).body;
      return view.state === 'stopped' ? view : undefined;
    }, 20_000);
    expect(stopped.failureReason).toMatch(/OOM/);
    expect((await docker.getContainer(s.containerId).inspect()).State.OOMKilled).toBe(true);
  });

  it('should give each sandbox a log directory kept across restart and removed on delete', async () => {
    const s = await create({});
    const hostDir = join(t.config.logDir.root, s.id);
    expect(existsSync(hostDir)).toBe(true);
    await execIn(s.containerId, ['sh', '-c', 'echo line > /data/logs/app.log']);
    expect(readFileSync(join(hostDir, 'app.log'), 'utf8')).toBe('line\n');
    // This host's log root is not on XFS with the container's project: the view says why.
    expect(s.logDirQuota).toMatchObject({ shared: false });
    expect(typeof s.logDirQuota.reason).toBe('string');
    await http.post(`/v1/sandboxes/${s.id}/stop`).expect(200);
    await http.post(`/v1/sandboxes/${s.id}/restart`).expect(200);
    expect((await execIn(s.containerId, ['cat', '/data/logs/app.log'])).output).toBe('line\n');
    await http.delete(`/v1/sandboxes/${s.id}?force=true`).expect(204);
    expect(existsSync(hostDir)).toBe(false);
  });

  it('should name the cap a request goes over', async () => {
    for (const [body, field, cap] of [
      [{ cpus: 4 }, 'cpus', 'MAX_CPUS'],
      [{ memory: '2g' }, 'memory', 'MAX_MEMORY'],
      [{ disk: '10g' }, 'disk', 'MAX_DISK'],
      [{ runtime: 'kata' }, 'runtime', 'ALLOWED_RUNTIMES'],
    ] as const) {
      const res = await http
        .post('/v1/sandboxes')
        .send({ image: DEMO_IMAGE, ...body })
        .expect(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.message).toContain(cap);
      expect(Object.keys(res.body.details.fields)).toEqual([field]);
    }
  });

  it('should create with a disk request it cannot enforce and say so (DISK_LIMIT_POLICY=warn)', async () => {
    const health = await http.get('/health').expect(200);
    expect(health.body.diskLimit.supported).toBe(false);
    const s = await create({ disk: '1g' });
    expect(s.state).toBe('running');
    expect(s.disk).toEqual({
      requested: '1g',
      requestedBytes: 1024 ** 3,
      enforced: false,
      reason: health.body.diskLimit.reason,
    });
    const inspected = await docker.getContainer(s.containerId).inspect();
    expect(inspected.HostConfig.StorageOpt ?? null).toBeNull();
  });
});

describe('resources: admission and the reject policy', () => {
  let t: TestApp;
  let http: ReturnType<typeof request>;

  beforeAll(async () => {
    await ensureDemoImage();
    // Capacity = host CPUs × 0.5 (this machine has 2 cores, so 1 CPU in all).
    t = await createTestApp('postgres+redis', {
      OVERCOMMIT_CPU: '0.5',
      DISK_LIMIT_POLICY: 'reject',
      DEFAULT_CPUS: '0.25',
    });
    http = request(t.app.getHttpServer());
  });

  afterAll(async () => {
    await t?.close();
  });

  it('should refuse a create that would exceed host capacity, creating nothing', async () => {
    const info = await testDocker().info();
    const capacity = (info.NCPU as number) * 0.5;
    // Other suites' live sandboxes in the shared database also count; fill what is left.
    let created = 0;
    let refused: request.Response | null = null;
    while (refused === null && created < 64) {
      const res = await http
        .post('/v1/sandboxes?wait=true')
        .send({ image: DEMO_IMAGE, cpus: 0.25 });
      if (res.status === 429) refused = res;
      else {
        expect(res.status).toBe(200);
        created += 1;
      }
    }
    expect(refused).not.toBeNull();
    expect(refused!.body.code).toBe('INSUFFICIENT_CAPACITY');
    expect(refused!.body.details.capacityCpus).toBe(capacity);
    expect(created).toBeLessThanOrEqual(capacity / 0.25);
    const mine = await testDocker().listContainers({
      all: true,
      filters: { label: [`io.sandboxd.instance=${t.config.docker.instanceId}`] },
    });
    expect(mine).toHaveLength(created);
  });

  it('should answer 422 DISK_LIMIT_UNSUPPORTED under DISK_LIMIT_POLICY=reject', async () => {
    const res = await http
      .post('/v1/sandboxes')
      .send({ image: DEMO_IMAGE, disk: '1g', cpus: 0.1 })
      .expect(422);
    expect(res.body.code).toBe('DISK_LIMIT_UNSUPPORTED');
  });
});

describe.each(['postgres+redis', 'embedded'] as const)(
  'resources: a request that can never fit this host (%s)',
  (backend) => {
    let t: TestApp;
    let http: ReturnType<typeof request>;
    const docker = testDocker();

    beforeAll(async () => {
      await ensureDemoImage();
      // Capacity = host × 1: what is above the host itself can never be admitted. (What fits the
      // host but not beside live sandboxes stays 429: see 'admission and the reject policy'.)
      t = await createTestApp(backend, { OVERCOMMIT_CPU: '1', OVERCOMMIT_MEMORY: '1' });
      http = request(t.app.getHttpServer());
    });

    afterAll(async () => {
      await t?.close();
    });

    async function mine(): Promise<number> {
      const containers = await docker.listContainers({
        all: true,
        filters: { label: [`io.sandboxd.instance=${t.config.docker.instanceId}`] },
      });
      return containers.length;
    }

    it('should answer 422 EXCEEDS_HOST_CAPACITY naming the resource, creating nothing', async () => {
      const host = await docker.info();
      const hostCpus = host.NCPU as number;
      const hostMemory = host.MemTotal as number;
      for (const [body, resource, requested, capacity] of [
        [{ memory: '100000g' }, 'memory', 100000 * 1024 ** 3, hostMemory],
        [{ cpus: hostCpus + 1 }, 'cpus', hostCpus + 1, hostCpus],
      ] as const) {
        const res = await http
          .post('/v1/sandboxes?wait=true')
          .send({ image: DEMO_IMAGE, ...body })
          .expect(422);
        expect(res.body.code).toBe('EXCEEDS_HOST_CAPACITY');
        expect(res.body.message).toMatch(new RegExp(`^${resource} .* can never fit this host`));
        expect(res.body.details).toEqual({ resource, requested, capacity });
      }
      expect(await mine()).toBe(0);
    });
  },
);
