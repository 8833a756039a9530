// @app/config's DTO decorators need the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandRunner } from './command-runner';
import { hardenLogDirMount, releaseLogDirMount } from './log-dir-mount';
import { MountTable } from './mount-table';

// Real mounts need root (the service runs as root next to dockerd); skipped otherwise.
const asRoot = process.getuid?.() === 0 ? describe : describe.skip;

asRoot('log dir mount (real mount(8))', () => {
  const runner = new CommandRunner();
  const mounts = new MountTable();
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quota-logmount-'));
  });

  afterEach(async () => {
    await releaseLogDirMount(runner, mounts, dir);
    await rm(dir, { recursive: true, force: true });
  });

  const optionsAt = async (): Promise<string[] | null> =>
    (await mounts.entries()).filter((entry) => entry.target === dir).pop()?.options ?? null;

  it('makes the dir a nosuid,nodev,noexec mount once, however often asked, and undoes it', async () => {
    expect(await optionsAt()).toBeNull();
    await hardenLogDirMount(runner, mounts, dir);
    await hardenLogDirMount(runner, mounts, dir);
    expect(await optionsAt()).toEqual(expect.arrayContaining(['nosuid', 'nodev', 'noexec']));
    expect((await mounts.entries()).filter((entry) => entry.target === dir)).toHaveLength(1);
    await releaseLogDirMount(runner, mounts, dir);
    expect(await optionsAt()).toBeNull();
  });
});
