// @app/config's DTO decorators need the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { QuotaService } from './quota.service';
import { exited, FakeCommandRunner, ok } from './testing/fake-command-runner';
import { FakeMountTable, xfsMount } from './testing/fake-mount-table';

const STATE = (enforcement: string): string =>
  `Project quota state on /data (/dev/sdb1)\n  Accounting: ON\n  Enforcement: ${enforcement}\n`;

function serviceWith(runner: FakeCommandRunner, options: string[]): QuotaService {
  const table = [{ source: '/dev/vda1', target: '/', fstype: 'ext4', options: ['rw'] }];
  return new QuotaService(runner, new FakeMountTable([...table, xfsMount('/data', options)]));
}

describe('QuotaService.detectEnforcement', () => {
  it('asks XFS and believes it', async () => {
    const runner = new FakeCommandRunner().on('xfs_quota', null, ok(STATE('ON')));
    const result = await serviceWith(runner, ['rw', 'prjquota']).detectEnforcement('/data');
    expect(result).toEqual({ enforced: true, reason: expect.stringMatching(/enforcement ON/) });
    expect(runner.calls.map((c) => c.args)).toEqual([['-x', '-c', 'state -p', '/data']]);
  });

  it('reports accounting without enforcement as not enforced', async () => {
    const runner = new FakeCommandRunner().on('xfs_quota', null, ok(STATE('OFF')));
    const result = await serviceWith(runner, ['rw', 'pqnoenforce']).detectEnforcement('/data');
    expect(result).toEqual({ enforced: false, reason: expect.stringMatching(/enforcement OFF/) });
  });

  it('takes empty state output as "not enabled"', async () => {
    const runner = new FakeCommandRunner().on('xfs_quota', null, ok(''));
    const result = await serviceWith(runner, ['rw', 'noquota']).detectEnforcement('/data/sub');
    expect(result).toEqual({
      enforced: false,
      reason: '/data: project quota not enabled (rw,noquota)',
    });
  });

  it.each([
    [['rw', 'prjquota'], true],
    [['rw', 'noquota'], false],
  ])('falls back to the mount options %j when xfs_quota fails', async (options, enforced) => {
    const runner = new FakeCommandRunner().on('xfs_quota', null, exited(127, 'not found'));
    const result = await serviceWith(runner, options).detectEnforcement('/data');
    expect(result).toEqual({ enforced, reason: expect.stringMatching(/mount options/) });
  });

  it('says not enforced for a mount that is not XFS, without running anything', async () => {
    const runner = new FakeCommandRunner();
    const result = await serviceWith(runner, ['rw']).detectEnforcement('/home');
    expect(result).toEqual({ enforced: false, reason: '/home is not on an XFS mount' });
    expect(runner.calls).toHaveLength(0);
  });

  it('says not enforced when the mount table cannot be read', async () => {
    const service = new QuotaService(
      new FakeCommandRunner(),
      new FakeMountTable(new Error('EACCES')),
    );
    await expect(service.detectEnforcement('/data')).resolves.toEqual({
      enforced: false,
      reason: 'cannot read the mount table: EACCES',
    });
  });
});
