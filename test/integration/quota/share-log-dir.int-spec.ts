import { CodedError } from '@app/domain';
import { CommandRunner, QuotaModule, QuotaService } from '@app/quota';
import { Test } from '@nestjs/testing';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  lsproj,
  mountOptions,
  mountTestXfs,
  run,
  xfsUnavailableReason,
  type XfsMount,
} from './xfs-fixture';

const unavailable = xfsUnavailableReason();
if (unavailable !== null) {
  console.warn(`SKIPPING the XFS quota integration tests: ${unavailable}`);
}
const describeXfs = unavailable === null ? describe : describe.skip;

describeXfs('QuotaService on a real XFS (loop mount)', () => {
  let xfs: XfsMount;
  let quota: QuotaService;
  let upper: string;

  beforeAll(async () => {
    xfs = await mountTestXfs();
    const moduleRef = await Test.createTestingModule({ imports: [QuotaModule] }).compile();
    quota = moduleRef.get(QuotaService);
    // Stands in for Docker's overlay2 upper dir after `docker create --storage-opt size=`.
    upper = join(xfs.mountPoint, 'upper');
    await mkdir(upper);
    await run('xfs_io', ['-c', 'chproj 4242', '-c', 'chattr +P', upper]);
  }, 240_000);

  afterAll(async () => {
    await xfs?.teardown();
  });

  it('reads the upper dir project and its mount', async () => {
    await expect(quota.rootfsProject(upper)).resolves.toEqual({
      projectId: 4242,
      mountPoint: xfs.mountPoint,
    });
    await expect(quota.projectIdOf(upper)).resolves.toBe(4242);
  });

  it('binds the log dir to the project; what is written there later inherits it', async () => {
    const logDir = await quota.ensureLogDir(join(xfs.mountPoint, 'logs'), 'sb-share');
    await writeFile(join(logDir, 'before.log'), 'written before sharing\n');
    expect(await lsproj(logDir)).toBe(0);

    await expect(quota.shareWithLogDir(upper, logDir)).resolves.toEqual({
      shared: true,
      projectId: 4242,
      mountPoint: xfs.mountPoint,
    });

    expect(await lsproj(logDir)).toBe(4242);
    expect(await lsproj(join(logDir, 'before.log'))).toBe(4242);
    const { stdout: attrs } = await run('xfs_io', ['-r', '-c', 'lsattr', logDir]);
    expect(attrs.split(' ')[0]).toContain('P');

    await writeFile(join(logDir, 'after.log'), 'written after sharing\n');
    await mkdir(join(logDir, 'nested', 'deeper'), { recursive: true });
    await writeFile(join(logDir, 'nested', 'deeper', 'x.log'), 'x\n');
    for (const path of ['after.log', 'nested', 'nested/deeper', 'nested/deeper/x.log']) {
      expect({ path, project: await lsproj(join(logDir, path)) }).toEqual({ path, project: 4242 });
    }
  });

  it("shares a log dir reached through LOG_ROOT's own nosuid,nodev,noexec bind mount", async () => {
    const root = join(xfs.mountPoint, 'logs-bound');
    const logDir = await quota.ensureLogDir(root, 'sb-bound');
    await quota.secureLogDir(logDir);
    try {
      // findmnt now names the bind mount, not the XFS mount: the same device is what counts.
      expect(mountOptions(root)).toEqual(expect.arrayContaining(['nosuid', 'nodev', 'noexec']));
      await expect(quota.shareWithLogDir(upper, logDir)).resolves.toEqual({
        shared: true,
        projectId: 4242,
        mountPoint: xfs.mountPoint,
      });
      expect(await lsproj(logDir)).toBe(4242);
      await writeFile(join(logDir, 'after.log'), 'x\n');
      expect(await lsproj(join(logDir, 'after.log'))).toBe(4242);
    } finally {
      await run('umount', [root]);
    }
  });

  it('does not share with a log dir on another file system, naming the mismatch', async () => {
    const logDir = await quota.ensureLogDir(join(xfs.base, 'logs-elsewhere'), 'sb-other');
    const result = await quota.shareWithLogDir(upper, logDir);
    console.log(`log dir on another file system: ${JSON.stringify(result)}`);
    expect(result).toEqual({
      shared: false,
      reason: expect.stringContaining(`not on the upper dir's XFS mount ${xfs.mountPoint}`),
    });
    expect((result as { reason: string }).reason).toMatch(new RegExp(`^log dir ${logDir} is on /`));
  });

  it('does not share when the upper dir has project 0', async () => {
    const plain = join(xfs.mountPoint, 'plain-upper');
    await mkdir(plain);
    const logDir = await quota.ensureLogDir(join(xfs.mountPoint, 'logs'), 'sb-zero');
    const result = await quota.shareWithLogDir(plain, logDir);
    expect(result).toEqual({ shared: false, reason: expect.stringMatching(/project id 0/) });
    expect(await lsproj(logDir)).toBe(0);
  });

  it('does not throw when a command fails: a runner that fails, a path that does not exist', async () => {
    const failing = new (class extends CommandRunner {
      override run(): never {
        throw new CodedError('INTERNAL_ERROR', 'simulated: xfs_quota not installed');
      }
    })();
    const moduleRef = await Test.createTestingModule({ imports: [QuotaModule] })
      .overrideProvider(CommandRunner)
      .useValue(failing)
      .compile();
    const logDir = await quota.ensureLogDir(join(xfs.mountPoint, 'logs'), 'sb-fail');
    await expect(moduleRef.get(QuotaService).shareWithLogDir(upper, logDir)).resolves.toEqual({
      shared: false,
      reason: expect.stringMatching(/simulated/),
    });

    const missing = join(xfs.mountPoint, 'no-such-upper');
    await expect(quota.shareWithLogDir(missing, logDir)).resolves.toEqual({
      shared: false,
      reason: expect.stringMatching(/does it exist/),
    });
    await expect(quota.shareWithLogDir(upper, join(logDir, 'missing'))).resolves.toMatchObject({
      shared: false,
    });
    expect(await lsproj(logDir)).toBe(0);
  });

  it('refuses a log dir xfs_quota would misread (a space) and touches nothing', async () => {
    const logDir = join(xfs.mountPoint, 'logs', 'with space');
    await mkdir(logDir, { recursive: true });
    const result = await quota.shareWithLogDir(upper, logDir);
    expect(result).toMatchObject({ shared: false });
    expect(await lsproj(logDir)).toBe(0);
  });

  it('tells truthfully whether project quota is enforced on the mount', async () => {
    const options = mountOptions(xfs.mountPoint);
    const kernelSays = options.includes('prjquota') || options.includes('pquota');
    const result = await quota.detectEnforcement(xfs.mountPoint);
    console.log(
      `enforcement on ${xfs.mountPoint}: ${JSON.stringify(result)}; /proc/self/mounts options: ${options.join(',')}`,
    );
    expect(result.enforced).toBe(kernelSays);
  });

  it('removes the log dir, idempotently', async () => {
    const root = join(xfs.mountPoint, 'logs');
    const logDir = await quota.ensureLogDir(root, 'sb-remove');
    await writeFile(join(logDir, 'a.log'), 'a\n');
    await quota.removeLogDir(root, 'sb-remove');
    await quota.removeLogDir(root, 'sb-remove');
    await expect(run('test', ['-e', logDir])).rejects.toBeDefined();
  });
});
