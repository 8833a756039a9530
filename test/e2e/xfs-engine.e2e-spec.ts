import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { LABEL_INSTANCE } from '@app/deployment';
import { TestApp, createTestApp } from '../support/app';
import { DEMO_IMAGE, ensureDemoImage } from '../support/docker';
import { XfsEngine, xfsEngineUnavailableReason } from '../support/xfs-engine';
import { lsproj, mountOptions } from '../integration/quota/xfs-fixture';

/** The fields of a sandbox view (JSON answer) this suite reads. */
interface SandboxView {
  id: string;
  state: string;
  containerId: string;
  disk: unknown;
  logDirQuota: unknown;
}

const unavailable = xfsEngineUnavailableReason();
if (unavailable !== null) {
  console.warn(`SKIPPING the XFS-engine e2e suite: ${unavailable}`);
}
const describeXfsEngine = unavailable === null ? describe : describe.skip;

/**
 * The unsupported `--storage-opt size=` path for real: a second Docker engine whose data root is a
 * loop-mounted XFS, so Docker reports `Backing Filesystem: xfs`, but mounted without project quota
 * (this kernel refuses -o prjquota). The service must see that, say so, and never ask the engine
 * for a size it would refuse.
 */
describeXfsEngine('disk limits on a Docker engine whose data root is XFS without prjquota', () => {
  let engine: XfsEngine | undefined;
  let warnApp: TestApp | undefined;
  let rejectApp: TestApp | undefined;
  let warnHttp: ReturnType<typeof request>;
  let rejectHttp: ReturnType<typeof request>;

  const xfs = (): XfsEngine => {
    if (engine === undefined) throw new Error('the XFS engine did not start (see beforeAll)');
    return engine;
  };

  beforeAll(async () => {
    await ensureDemoImage(); // on the main engine, to be copied into the second one
    engine = new XfsEngine();
    await engine.start();
    console.log(
      `second engine on ${engine.socketPath}, data root ${engine.dataRoot}\n${engine.mountSaid}`,
    );
    warnApp = await createTestApp('postgres+redis', {
      DOCKER_SOCKET_PATH: engine.socketPath,
      LOG_ROOT: join(engine.mountPoint, 'logs'),
      DISK_LIMIT_POLICY: 'warn',
      PORT_RANGE: '46000-46099',
    });
    warnHttp = request(warnApp.app.getHttpServer());
    rejectApp = await createTestApp('postgres+redis', {
      DOCKER_SOCKET_PATH: engine.socketPath,
      LOG_ROOT: join(engine.mountPoint, 'logs-reject'),
      DISK_LIMIT_POLICY: 'reject',
      PORT_RANGE: '46100-46199',
    });
    rejectHttp = request(rejectApp.app.getHttpServer());
  }, 240_000);

  afterAll(async () => {
    const problems: string[] = [];
    for (const app of [warnApp, rejectApp]) {
      try {
        await app?.close();
      } catch (error) {
        problems.push(`closing an app: ${String(error)}`);
      }
    }
    if (engine !== undefined) {
      try {
        await engine.teardown();
      } catch (error) {
        problems.push(String(error));
      }
      const left = XfsEngine.mountsUnder(engine.base);
      if (left.length > 0) problems.push(`mounts left behind: ${left.join(', ')}`);
      if (existsSync(engine.base)) problems.push(`${engine.base} left behind`);
    }
    if (problems.length > 0) throw new Error(problems.join('\n'));
  }, 120_000);

  async function healthReason(http: ReturnType<typeof request>): Promise<string> {
    const health = await http.get('/health').expect(200);
    expect(health.body.diskLimit.supported).toBe(false);
    return health.body.diskLimit.reason as string;
  }

  it('runs the second engine on overlay2 over the XFS mount, which has no project quota', async () => {
    const info = await xfs().docker.info();
    expect(info.Driver).toBe('overlay2');
    expect(info.DockerRootDir).toBe(xfs().dataRoot);
    const status = new Map((info.DriverStatus as [string, string][]).map(([k, v]) => [k, v]));
    expect(status.get('Backing Filesystem')).toBe('xfs');
    const options = mountOptions(xfs().mountPoint);
    expect(options).not.toContain('prjquota');
    expect(options).not.toContain('pquota');
  });

  it('reports in GET /health that disk limits are not supported, naming the mount without prjquota', async () => {
    const reason = await healthReason(warnHttp);
    console.log(`GET /health diskLimit.reason: ${reason}`);
    // Docker says "Backing Filesystem: xfs", so the check gets past driver and file system and
    // stops at the options of the XFS mount holding the data root. Which mount that is: when the
    // mount under the data root is neither shared nor slave (the loop mount here is private),
    // dockerd bind-mounts the data root onto itself and makes it shared (undone on shutdown, see
    // unmount-on-shutdown in its exec root). Then the mount is <mnt>/docker itself, same options.
    const { dataRoot, mountPoint } = xfs();
    const selfBound = XfsEngine.mountsUnder(dataRoot).includes(dataRoot);
    if (selfBound) expect(mountOptions(dataRoot)).toEqual(mountOptions(mountPoint));
    const holder = selfBound ? dataRoot : mountPoint;
    expect(reason).toBe(`${holder} is mounted without prjquota/pquota`);
  });

  it('is refused by the engine itself when --storage-opt size= is asked for directly', async () => {
    const docker = xfs().docker;
    const before = (await docker.listContainers({ all: true })).length;
    // The request the service avoids making on this engine.
    const attempt = docker.createContainer({
      Image: DEMO_IMAGE,
      Cmd: ['sleep', '60'],
      HostConfig: { StorageOpt: { size: '1G' } },
    });
    const refusal = await attempt.then(
      () => 'the engine accepted --storage-opt size=1G',
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    console.log(`engine refused StorageOpt size=1G: ${refusal}`);
    expect(refusal).toMatch(/--storage-opt is supported only for overlay over xfs/);
    expect(refusal).toMatch(/'pquota' mount option/);
    expect((await docker.listContainers({ all: true })).length).toBe(before);
  });

  it('creates a running sandbox for disk: 1g under DISK_LIMIT_POLICY=warn, saying it is not enforced', async () => {
    const reason = await healthReason(warnHttp);
    const res = await warnHttp
      .post('/v1/sandboxes?wait=true')
      .send({ image: DEMO_IMAGE, disk: '1g' })
      .expect(200);
    const s = res.body as SandboxView;
    expect(s.state).toBe('running');
    expect(s.disk).toEqual({ requested: '1g', requestedBytes: 1024 ** 3, enforced: false, reason });

    const inspected = await xfs().docker.getContainer(s.containerId).inspect();
    expect(inspected.State.Running).toBe(true);
    // No size was asked of the engine, so it had nothing to refuse.
    expect(inspected.HostConfig.StorageOpt ?? {}).toEqual({});
    const upperDir = (inspected.GraphDriver.Data as Record<string, string>).UpperDir;
    expect(upperDir.startsWith(`${xfs().dataRoot}/`)).toBe(true);

    // The log dir is on the XFS mount itself (same device), bind-mounted into the container.
    const logDir = join(xfs().mountPoint, 'logs', s.id);
    expect(existsSync(logDir)).toBe(true);
    expect(statSync(logDir).dev).toBe(statSync(xfs().mountPoint).dev);
    expect(inspected.Mounts.map((m) => m.Source)).toContain(logDir);

    // Docker gives an upper dir a project id only when it sets a size quota, which needs pquota;
    // without it the upper dir keeps project 0, so there is no project for the log dir to join.
    // Read with xfs_io directly, not through the code under test.
    expect(await lsproj(upperDir)).toBe(0);
    expect(await lsproj(logDir)).toBe(0);
    console.log(`logDirQuota: ${JSON.stringify(s.logDirQuota)}`);
    expect(s.logDirQuota).toEqual({
      shared: false,
      projectId: null,
      reason: expect.stringMatching(/no disk limit \(no --storage-opt size\)/),
    });
  });

  it('answers 422 DISK_LIMIT_UNSUPPORTED under DISK_LIMIT_POLICY=reject and creates nothing', async () => {
    const reason = await healthReason(rejectHttp);
    const docker = xfs().docker;
    const before = (await docker.listContainers({ all: true })).length;
    const res = await rejectHttp
      .post('/v1/sandboxes?wait=true')
      .send({ image: DEMO_IMAGE, disk: '1g' })
      .expect(422);
    console.log(`422 message: ${String(res.body.message)}`);
    expect(res.body.code).toBe('DISK_LIMIT_UNSUPPORTED');
    expect(res.body.details).toEqual({ reason });
    expect(res.body.message).toContain(reason);

    expect((await docker.listContainers({ all: true })).length).toBe(before);
    const mine = await docker.listContainers({
      all: true,
      filters: { label: [`${LABEL_INSTANCE}=${rejectApp?.config.docker.instanceId}`] },
    });
    expect(mine).toEqual([]);
    expect((await rejectHttp.get('/v1/sandboxes').expect(200)).body.items).toEqual([]);
    expect(existsSync(join(xfs().mountPoint, 'logs-reject'))).toBe(false);
  });
});
