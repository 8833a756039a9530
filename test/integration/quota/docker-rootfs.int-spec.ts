import { LABEL_INSTANCE } from '@app/deployment';
import { QuotaModule, QuotaService } from '@app/quota';
import { Test } from '@nestjs/testing';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEMO_IMAGE,
  ensureDemoImage,
  newTestInstanceId,
  sweepContainers,
  testDocker,
} from '../../support/docker';

/**
 * A real container between create and start, as the sandbox layer will use the service. Docker's
 * data root on this machine is not XFS, so the honest answer is "no project, and here is why".
 */
describe('QuotaService with a real Docker container (created, not started)', () => {
  const instanceId = newTestInstanceId();
  const docker = testDocker();
  let quota: QuotaService;
  let containerId: string;
  let upperDir: string;
  let logRoot: string;

  beforeAll(async () => {
    await ensureDemoImage();
    quota = (await Test.createTestingModule({ imports: [QuotaModule] }).compile()).get(
      QuotaService,
    );
    const container = await docker.createContainer({
      Image: DEMO_IMAGE,
      Cmd: ['sleep', '60'],
      Labels: { [LABEL_INSTANCE]: instanceId },
    });
    containerId = container.id;
    const info = await container.inspect();
    // dockerode types GraphDriver.Data for devicemapper; overlay2 fills in the dirs.
    const data: Record<string, string | undefined> = info.GraphDriver.Data;
    upperDir = data.UpperDir ?? '';
    logRoot = await mkdtemp(join(tmpdir(), 'quota-docker-'));
  }, 120_000);

  afterAll(async () => {
    if (containerId) await docker.getContainer(containerId).remove({ force: true, v: true });
    await sweepContainers(instanceId);
    if (logRoot) await rm(logRoot, { recursive: true, force: true });
  });

  it('finds the upper dir on disk right after create', async () => {
    expect(upperDir).toMatch(/\/diff$/);
    expect((await stat(upperDir)).isDirectory()).toBe(true);
  });

  it('explains, naming the file system, why the rootfs has no project', async () => {
    const dockerInfo = await docker.info();
    const backing = (dockerInfo.DriverStatus as string[][]).find(
      ([key]) => key === 'Backing Filesystem',
    )?.[1];
    const result = await quota.rootfsProject(upperDir);
    console.log(`rootfsProject(${upperDir}) on backing ${backing}: ${JSON.stringify(result)}`);
    if (backing === 'xfs') {
      // An XFS data root: Docker gives an upper dir a project only with --storage-opt size=.
      expect(result).toEqual({ reason: expect.stringMatching(/project id 0/) });
      return;
    }
    expect(result).toEqual({ reason: expect.stringMatching(/is on file system \S+ .*not XFS/) });
  });

  it('leaves the log dir unshared, without throwing', async () => {
    const logDir = await quota.ensureLogDir(logRoot, 'sb-docker');
    const result = await quota.shareWithLogDir(upperDir, logDir);
    expect(result).toEqual({ shared: false, reason: expect.stringMatching(/not XFS/) });
  });

  it('reports whether --storage-opt size= would work on this engine', async () => {
    const dockerInfo = await docker.info();
    const result = await quota.detectStorageOptSupport(dockerInfo);
    console.log(`storage-opt support: ${JSON.stringify(result)}`);
    const backing = (dockerInfo.DriverStatus as string[][]).find(
      ([key]) => key === 'Backing Filesystem',
    )?.[1];
    // The reason names what this host lacks (or, where it works, the mount that makes it work).
    if (dockerInfo.Driver !== 'overlay2') {
      expect(result).toEqual({
        supported: false,
        reason: `storage driver is ${dockerInfo.Driver}, not overlay2`,
      });
    } else if (backing !== 'xfs') {
      expect(result).toEqual({
        supported: false,
        reason: `overlay2 backing file system is ${backing ?? 'not reported'}, not xfs`,
      });
    } else {
      expect(result.reason).toMatch(
        result.supported
          ? /^overlay2 on xfs \S+ mounted with prjquota$/
          : /prjquota|pqnoenforce|XFS mount/,
      );
    }
  });
});
