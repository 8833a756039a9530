// @app/config's DTO decorators need the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { chmod, mkdir, mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandError } from './command-runner';
import { HARDEN_SCRIPT } from './log-dir-mount';
import type { MountEntry } from './mount-table';
import { HARDENED_FRESH_MS, QUOTA_COMMAND_TIMEOUT_MS, QuotaService } from './quota.service';
import { exited, FakeCommandRunner, lastArgIs, ok } from './testing/fake-command-runner';
import { FakeMountTable } from './testing/fake-mount-table';

const UPPER = '/data/docker/overlay2/abc/diff';
const LOG = '/data/sandbox-logs/sb1';
const MOUNT = '/data';
const SHARE_ARGS = ['-x', '-c', `project -s -p ${LOG} 4242`, MOUNT];

/** A host where the upper dir has project 4242 on the XFS mount /data, as the log dir does. */
function xfsHost(): FakeCommandRunner {
  const runner = new FakeCommandRunner();
  let logProject = 0;
  runner
    .on('findmnt', lastArgIs(UPPER), ok(`${MOUNT}  xfs\n`))
    .on('findmnt', lastArgIs(LOG), ok(`${MOUNT}  xfs\n`))
    .on('xfs_io', lastArgIs(UPPER), ok('projid = 4242\n'))
    .on('xfs_io', lastArgIs(LOG), () => ok(`projid = ${logProject}\n`))
    .on('xfs_quota', null, () => {
      logProject = 4242;
      return ok(`Setting up project 4242 (path ${LOG})...\n`);
    });
  return runner;
}

describe('QuotaService', () => {
  let runner: FakeCommandRunner;
  let service: QuotaService;

  beforeEach(() => {
    runner = xfsHost();
    service = new QuotaService(runner, new FakeMountTable([]));
  });

  afterEach(() => {
    // The hard limit is Docker's: no path through this service may ever set one.
    expect(runner.allArgs().some((arg) => /\blimit\b/.test(arg))).toBe(false);
    for (const call of runner.calls) expect(call.options.timeoutMs).toBe(QUOTA_COMMAND_TIMEOUT_MS);
  });

  describe('rootfsProject', () => {
    it('returns the project id and the mount point, with exact arguments', async () => {
      await expect(service.rootfsProject(UPPER)).resolves.toEqual({
        projectId: 4242,
        mountPoint: MOUNT,
      });
      expect(runner.calls.map(({ file, args }) => [file, args])).toEqual([
        ['findmnt', ['-n', '-o', 'TARGET,FSTYPE', '--target', UPPER]],
        ['xfs_io', ['-r', '-c', 'lsproj', UPPER]],
      ]);
    });

    it('names the file system when it is not XFS, without reading the project', async () => {
      runner.on('findmnt', lastArgIs(UPPER), ok('/      ext4\n'));
      const result = await service.rootfsProject(UPPER);
      expect(result).toEqual({
        reason: expect.stringMatching(/file system ext4 \(mount \/\), not XFS/),
      });
      expect(runner.calls.map((c) => c.file)).toEqual(['findmnt']);
    });

    it.each([
      ['project id 0', ok('projid = 0\n'), /project id 0/],
      ['unreadable lsproj output', ok('what?\n'), /unreadable output/],
      ['lsproj failing', exited(1, `${UPPER}: Inappropriate ioctl`), /xfs_io exited with 1/],
      [
        'lsproj timing out',
        new CommandError('xfs_io: timed out', 'xfs_io', [], null, ''),
        /timed out/,
      ],
    ])('reports %s as a reason', async (_name, response, reason) => {
      runner.on('xfs_io', lastArgIs(UPPER), response);
      const result = await service.rootfsProject(UPPER);
      expect(result).toEqual({ reason: expect.stringMatching(reason) });
    });

    it('reports a missing upper dir (findmnt exits 1 silently)', async () => {
      runner.on('findmnt', lastArgIs(UPPER), exited(1, ''));
      const result = await service.rootfsProject(UPPER);
      expect(result).toEqual({ reason: expect.stringMatching(/no mount .*does it exist/) });
    });

    it('refuses a relative path without running anything', async () => {
      const result = await service.rootfsProject('overlay2/abc/diff');
      expect(result).toEqual({ reason: expect.stringMatching(/not an absolute path/) });
      expect(runner.calls).toHaveLength(0);
    });
  });

  describe('projectIdOf', () => {
    it('reads the id and throws when it cannot', async () => {
      await expect(service.projectIdOf(UPPER)).resolves.toBe(4242);
      runner.on('xfs_io', null, exited(1, 'No such file or directory'));
      await expect(service.projectIdOf('/nope')).rejects.toBeInstanceOf(CommandError);
    });
  });

  describe('shareWithLogDir', () => {
    it('binds the log dir to the rootfs project and checks it took', async () => {
      await expect(service.shareWithLogDir(UPPER, LOG)).resolves.toEqual({
        shared: true,
        projectId: 4242,
        mountPoint: MOUNT,
      });
      expect(runner.calls.map(({ file, args }) => [file, args])).toEqual([
        ['findmnt', ['-n', '-o', 'TARGET,FSTYPE', '--target', UPPER]],
        ['xfs_io', ['-r', '-c', 'lsproj', UPPER]],
        ['findmnt', ['-n', '-o', 'TARGET,FSTYPE', '--target', LOG]],
        ['xfs_quota', SHARE_ARGS],
        ['xfs_io', ['-r', '-c', 'lsproj', LOG]],
      ]);
    });

    it("shares through LOG_ROOT's own bind mount, which is on the same device", async () => {
      runner.on('findmnt', lastArgIs(LOG), ok('/data/sandbox-logs xfs\n'));
      const devices = { [LOG]: 0x801, [MOUNT]: 0x801 };
      service = new QuotaService(runner, new FakeMountTable([], devices));
      await expect(service.shareWithLogDir(UPPER, LOG)).resolves.toEqual({
        shared: true,
        projectId: 4242,
        mountPoint: MOUNT,
      });
    });

    it('does not share when the log dir is on another mount, naming both', async () => {
      runner.on('findmnt', lastArgIs(LOG), ok('/      ext4\n'));
      const result = await service.shareWithLogDir(UPPER, LOG);
      expect(result).toEqual({
        shared: false,
        reason: `log dir ${LOG} is on / (ext4), not on the upper dir's XFS mount ${MOUNT}`,
      });
      expect(runner.calls.map((c) => c.file)).not.toContain('xfs_quota');
    });

    it('does not share when another XFS mount holds the log dir', async () => {
      runner.on('findmnt', lastArgIs(LOG), ok('/logs xfs\n'));
      const result = await service.shareWithLogDir(UPPER, LOG);
      expect(result).toMatchObject({
        shared: false,
        reason: expect.stringMatching(/\/logs \(xfs\)/),
      });
    });

    it('does not share when the rootfs has no project (id 0)', async () => {
      runner.on('xfs_io', lastArgIs(UPPER), ok('projid = 0\n'));
      const result = await service.shareWithLogDir(UPPER, LOG);
      expect(result).toEqual({ shared: false, reason: expect.stringMatching(/project id 0/) });
      expect(runner.calls.map((c) => c.file)).not.toContain('xfs_quota');
    });

    it('does not share when the rootfs is not on XFS', async () => {
      runner.on('findmnt', lastArgIs(UPPER), ok('/var/lib/docker ext4\n'));
      const result = await service.shareWithLogDir(UPPER, LOG);
      expect(result).toEqual({ shared: false, reason: expect.stringMatching(/ext4.*not XFS/) });
    });

    it('reports xfs_quota exiting non-zero with its complaint', async () => {
      runner.on('xfs_quota', null, exited(1, 'xfs_quota: cannot set project'));
      const result = await service.shareWithLogDir(UPPER, LOG);
      expect(result).toEqual({
        shared: false,
        reason: expect.stringMatching(/xfs_quota exited with 1: xfs_quota: cannot set project/),
      });
    });

    it('does not trust xfs_quota exit 0: the id read back must match', async () => {
      runner.on('xfs_quota', null, {
        stdout: '',
        stderr: `xfs_quota: cannot setup path for project dir ${LOG}: No such file or directory`,
        exitCode: 0,
      });
      const result = await service.shareWithLogDir(UPPER, LOG);
      expect(result).toEqual({
        shared: false,
        reason: expect.stringMatching(
          /has project 0 after xfs_quota, not 4242: .*cannot setup path/,
        ),
      });
    });

    const steps: Array<[string, string, (args: readonly string[]) => boolean]> = [
      ['findmnt of the upper dir', 'findmnt', lastArgIs(UPPER)],
      ['lsproj of the upper dir', 'xfs_io', lastArgIs(UPPER)],
      ['findmnt of the log dir', 'findmnt', lastArgIs(LOG)],
      ['xfs_quota project -s', 'xfs_quota', () => true],
      ['lsproj of the log dir', 'xfs_io', lastArgIs(LOG)],
    ];
    it.each(steps)('never throws when %s fails to run', async (_name, file, matches) => {
      runner.on(file, matches, new CommandError(`${file}: timed out`, file, [], null, ''));
      const result = await service.shareWithLogDir(UPPER, LOG);
      expect(result).toEqual({ shared: false, reason: expect.stringMatching(/timed out/) });
    });

    it('never throws even on a non-CodedError rejection', async () => {
      runner.on('findmnt', null, new TypeError('boom'));
      await expect(service.shareWithLogDir(UPPER, LOG)).resolves.toEqual({
        shared: false,
        reason: expect.stringMatching(/boom/),
      });
    });

    it.each([
      ['relative/log'],
      ['/data/logs/with space'],
      ["/data/logs/it's"],
      ['/data/a\\b'],
      [''],
    ])(
      'refuses the log dir %j before running anything (xfs_quota cannot quote)',
      async (logDir) => {
        const result = await service.shareWithLogDir(UPPER, logDir);
        expect(result).toEqual({
          shared: false,
          reason: expect.stringMatching(/must be absolute/),
        });
        expect(runner.calls).toHaveLength(0);
      },
    );
  });

  describe('the log root mount', () => {
    const FLAGS = ['rw', 'nosuid', 'nodev', 'noexec', 'relatime'];
    let base: string;
    let root: string;
    let table: MountEntry[];

    beforeEach(async () => {
      base = await realpath(await mkdtemp(join(tmpdir(), 'quota-spec-')));
      root = join(base, 'logs');
      await mkdir(join(root, 'sb1'), { recursive: true });
      await chmod(root, 0o700);
      table = [{ source: '/dev/vda', target: '/', fstype: 'ext4', options: ['rw'] }];
      service = new QuotaService(runner, new FakeMountTable(table));
      // The bind + remount, as the kernel would then list it.
      runner.on('flock', null, () => {
        table.push({ source: '/dev/vda', target: root, fstype: 'ext4', options: FLAGS });
        return ok('');
      });
    });

    afterEach(async () => {
      await rm(base, { recursive: true, force: true });
    });

    const hardenArgs = () => ['flock', ['-w', '10', root, 'sh', '-euc', HARDEN_SCRIPT, 'sh', root]];

    it('makes LOG_ROOT its own mount at start-up, the path passed as an argument', async () => {
      await expect(service.secureLogRoot(root)).resolves.toBeNull();
      expect(runner.calls.map(({ file, args }) => [file, args])).toEqual([hardenArgs()]);
    });

    it('starts nothing for a log dir once the root is mounted, nor for a missing root', async () => {
      await service.secureLogRoot(root);
      await service.secureLogDir(join(root, 'sb1'));
      await service.secureLogDir(join(root, 'sb1'));
      await expect(service.secureLogRoot(join(base, 'missing'))).resolves.toBeNull();
      expect(runner.calls).toHaveLength(1);
    });

    it('mounts once for creates asking at the same time', async () => {
      const dirs = ['a', 'b', 'c'].map((id) => join(root, id));
      await Promise.all(dirs.map((dir) => service.secureLogDir(dir)));
      expect(runner.calls.map(({ file, args }) => [file, args])).toEqual([hardenArgs()]);
    });

    it('mounts again when the mount is gone (undone by hand, or a reboot), once its last look is stale', async () => {
      const clock = jest.spyOn(Date, 'now').mockReturnValue(1_000_000);
      try {
        await service.secureLogDir(join(root, 'sb1'));
        table.pop();
        // Within HARDENED_FRESH_MS the last look stands: a burst reads the table once.
        clock.mockReturnValue(1_000_000 + HARDENED_FRESH_MS - 1);
        await service.secureLogDir(join(root, 'sb1'));
        expect(runner.calls).toHaveLength(1);
        clock.mockReturnValue(1_000_000 + HARDENED_FRESH_MS);
        await service.secureLogDir(join(root, 'sb1'));
        expect(runner.calls).toHaveLength(2);
      } finally {
        clock.mockRestore();
      }
    });

    it("releases an earlier build's per-dir mounts before mounting the root", async () => {
      const old = join(root, 'sb1');
      table.push({ source: '/dev/vda', target: old, fstype: 'ext4', options: FLAGS });
      runner.on('umount', lastArgIs(old), () => {
        table.splice(
          table.findIndex((e) => e.target === old),
          1,
        );
        return ok('');
      });
      await service.secureLogDir(old);
      expect(runner.calls.map(({ file, args }) => [file, args])).toEqual([
        ['umount', [old]],
        hardenArgs(),
      ]);
    });

    it('fails a create when the mount cannot be made, but only reports it at start-up', async () => {
      runner.on('flock', null, exited(32, 'mount: permission denied'));
      await expect(service.secureLogDir(join(root, 'sb1'))).rejects.toMatchObject({
        code: 'CONTAINER_FAILED',
        message: expect.stringMatching(/cannot mount log root .*permission denied/),
      });
      await expect(service.secureLogRoot(root)).resolves.toMatch(
        /cannot mount log root .*; creates and restarts fail until it can be mounted$/,
      );
    });

    it('fails when the mount table does not show the flags afterwards', async () => {
      runner.on('flock', null, ok(''));
      await expect(service.secureLogDir(join(root, 'sb1'))).rejects.toMatchObject({
        code: 'CONTAINER_FAILED',
        message: expect.stringMatching(/does not show the flags/),
      });
    });

    it('deletes a log dir without unmounting anything', async () => {
      await service.removeLogDir(root, 'sb1');
      expect(runner.calls).toEqual([]);
    });
  });
});
