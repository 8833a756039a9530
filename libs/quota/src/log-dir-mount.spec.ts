// @app/config's DTO decorators need the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandRunner } from './command-runner';
import { hardenLogRootMount, releaseLogDirMount } from './log-dir-mount';
import { MountTable, mountOf } from './mount-table';
import { QuotaService } from './quota.service';

// Real mounts need root (the service runs as root next to dockerd); skipped otherwise.
const asRoot = process.getuid?.() === 0 ? describe : describe.skip;

asRoot('log root mount (real mount(8))', () => {
  const runner = new CommandRunner();
  const mounts = new MountTable();
  let base: string;
  let root: string;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'quota-logmount-'));
    root = join(base, 'logs');
    await mkdir(join(root, 'sb1'), { recursive: true });
  });

  afterEach(async () => {
    const below = async () =>
      (await mounts.entries()).map((e) => e.target).filter((t) => t.startsWith(`${base}/`));
    for (const target of (await below()).reverse()) spawnSync('umount', ['-l', target]);
    expect(await below()).toEqual([]);
    await rm(base, { recursive: true, force: true });
  });

  const at = async (target: string) =>
    (await mounts.entries()).filter((entry) => entry.target === target);

  it('makes the root one nosuid,nodev,noexec mount, however often (and at once) asked', async () => {
    expect(await at(root)).toEqual([]);
    await Promise.all([
      hardenLogRootMount(runner, mounts, root),
      hardenLogRootMount(runner, mounts, root),
    ]);
    await hardenLogRootMount(runner, mounts, root);
    const made = await at(root);
    expect(made).toHaveLength(1);
    expect(made[0].options).toEqual(expect.arrayContaining(['nosuid', 'nodev', 'noexec']));
    // A log dir below has no mount of its own: it is reached through the root's.
    expect(await at(join(root, 'sb1'))).toEqual([]);
    expect(mountOf(await mounts.entries(), join(root, 'sb1'))?.target).toBe(root);
  });

  it("flags the host's side too when LOG_ROOT is an rshared bind from it (sandboxd in Compose)", async () => {
    // `host` stands for the host's side, `inside` for the container's bind of host/logs: the
    // same peer group, as Compose's `propagation: rshared` makes it. Only a new mount propagates.
    const host = join(base, 'host');
    const inside = join(base, 'inside');
    await mkdir(join(host, 'logs', 'sb1'), { recursive: true });
    await mkdir(inside);
    spawnSync('mount', ['--bind', host, host]);
    spawnSync('mount', ['--make-shared', host]);
    spawnSync('mount', ['--bind', join(host, 'logs'), inside]);
    await hardenLogRootMount(runner, mounts, inside);
    const flags = expect.arrayContaining(['nosuid', 'nodev', 'noexec']);
    expect((await at(join(host, 'logs'))).pop()?.options).toEqual(flags);
    expect((await at(inside)).pop()?.options).toEqual(flags);
    await hardenLogRootMount(runner, mounts, inside);
    expect(await at(inside)).toHaveLength(2);
  });

  it('resolves a symlinked parent, so a second call finds the mount it made', async () => {
    const link = join(base, 'link');
    await symlink(base, link);
    await hardenLogRootMount(runner, mounts, join(link, 'logs'));
    await hardenLogRootMount(runner, mounts, join(link, 'logs'));
    expect(await at(root)).toHaveLength(1);
  });

  it("releases an earlier build's per-dir mounts first, so none is hidden under the root's", async () => {
    const dir = join(root, 'sb1');
    spawnSync('mount', ['--bind', dir, dir]);
    spawnSync('mount', ['--bind', dir, dir]);
    expect(await at(dir)).toHaveLength(2);
    await hardenLogRootMount(runner, mounts, root);
    expect(await at(dir)).toEqual([]);
    expect(await at(root)).toHaveLength(1);
  });

  it('releases every mount stacked at a dir, and nothing when there is none', async () => {
    const dir = join(root, 'sb1');
    await releaseLogDirMount(runner, mounts, dir);
    spawnSync('mount', ['--bind', dir, dir]);
    spawnSync('mount', ['--bind', dir, dir]);
    await releaseLogDirMount(runner, mounts, dir);
    expect(await at(dir)).toEqual([]);
  });

  it('deletes a log dir an earlier build left mounted: busy, so it is unmounted, then removed', async () => {
    const dir = join(root, 'sb1');
    await hardenLogRootMount(runner, mounts, root);
    spawnSync('mount', ['--bind', dir, dir]);
    await new QuotaService(runner, mounts).removeLogDir(root, 'sb1');
    expect(await at(dir)).toEqual([]);
    await expect(stat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
