// @app/config's DTO decorators need the Reflect metadata polyfill before anything imports it.
import 'reflect-metadata';
import { isCodedError } from '@app/domain';
import type { FileRead } from '@app/deployment';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  ensureDemoImage,
  execIn,
  newTestInstanceId,
  sweepContainers,
  sweepTestNetworks,
} from '../../support/docker';
import { demoSpec, deploymentFor, rejectionOf } from './deployment-fixtures';

const instanceId = newTestInstanceId();
const { deployment } = deploymentFor(instanceId, '45010-45019');
let containerId = '';
let hostDir = '';
let hostMarker = '';
const HOST_SECRET = `host-only-${randomBytes(8).toString('hex')}`;
const MiB = 1024 * 1024;

async function contentOf(read: FileRead): Promise<Buffer> {
  if (read.kind !== 'file') throw new Error(`expected a file, got a ${read.kind}`);
  const chunks: Buffer[] = [];
  for await (const chunk of read.content) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A directory's listing, as the files API gets it: readFile on the directory. */
async function listingOf(id: string, path: string, options: { maxEntries?: number } = {}) {
  const read = await deployment.readFile(id, path, { maxBytes: 1, ...options });
  if (read.kind !== 'directory') throw new Error(`expected a directory, got a ${read.kind}`);
  return read;
}

/** What readFile says about a path (a link followed), its content left unread. */
async function infoOf(id: string, path: string) {
  const read = await deployment.readFile(id, path, { maxBytes: MiB });
  if (read.kind === 'file') read.content.destroy();
  return read.info;
}

function reasonOf(error: unknown): unknown {
  return (error as { code?: unknown }).code;
}

async function sh(script: string): Promise<string> {
  const result = await execIn(containerId, ['sh', '-c', script]);
  if (result.exitCode !== 0) throw new Error(`${script}: ${result.output}`);
  return result.output;
}

beforeAll(async () => {
  await ensureDemoImage();
  containerId = (await deployment.provision(demoSpec())).containerId;
  // A file only the host has, at a path that does not exist in the container.
  hostDir = await mkdtemp(join(tmpdir(), 'sandboxd-host-'));
  hostMarker = join(hostDir, 'secret.txt');
  await writeFile(hostMarker, HOST_SECRET);
});

afterAll(async () => {
  await sweepContainers(instanceId);
  await sweepTestNetworks();
  if (hostDir) await rm(hostDir, { recursive: true, force: true });
});

describe('DockerDeployment files (real engine)', () => {
  it('uploads 5 MiB of random bytes and reads them back identical', async () => {
    const data = randomBytes(5 * MiB);
    const written = await deployment.writeFile(containerId, '/tmp/blob.bin', data, {
      maxBytes: 8 * MiB,
    });
    expect(written).toMatchObject({ path: '/tmp/blob.bin', type: 'file', size: data.length });
    const read = await deployment.readFile(containerId, '/tmp/blob.bin', { maxBytes: 8 * MiB });
    const back = await contentOf(read);
    expect(back.length).toBe(data.length);
    expect(back.equals(data)).toBe(true);
    // Checked independently of the code under test, inside the container.
    const sum = createHash('md5').update(data).digest('hex');
    expect(await sh('md5sum /tmp/blob.bin 2>/dev/null || wc -c < /tmp/blob.bin')).toMatch(
      new RegExp(`${sum}|^${data.length}`),
    );
  });

  it('streams an upload of known size, and buffers one of unknown size within the limit', async () => {
    const data = randomBytes(3 * MiB + 17);
    const chunks = Array.from({ length: 4 }, (_, i) =>
      data.subarray((i * data.length) / 4, ((i + 1) * data.length) / 4),
    );
    await deployment.writeFile(containerId, '/tmp/streamed.bin', Readable.from(chunks), {
      maxBytes: 4 * MiB,
      size: data.length,
    });
    await deployment.writeFile(containerId, '/tmp/buffered.bin', Readable.from(chunks), {
      maxBytes: 4 * MiB,
    });
    for (const path of ['/tmp/streamed.bin', '/tmp/buffered.bin']) {
      const back = await contentOf(
        await deployment.readFile(containerId, path, { maxBytes: 4 * MiB }),
      );
      expect(back.equals(data)).toBe(true);
    }
  });

  it('honours the mode and owner', async () => {
    const written = await deployment.writeFile(containerId, '/tmp/secret', Buffer.from('x'), {
      mode: 0o600,
      uid: 65534,
      gid: 65534,
      maxBytes: 10,
    });
    expect(written.mode).toBe(0o600);
    expect(await sh('ls -ln /tmp/secret')).toMatch(/^-rw------- +1 65534 +65534 +1 /);
    const executable = await deployment.writeFile(
      containerId,
      '/tmp/run.sh',
      Buffer.from('#!/bin/sh\necho ran\n'),
      { mode: 0o755, maxBytes: 100 },
    );
    expect(executable.mode).toBe(0o755);
    expect(await sh('/tmp/run.sh')).toBe('ran\n');
  });

  it('overwrites a file, refuses a directory, needs the parent directory', async () => {
    await deployment.writeFile(containerId, '/tmp/over', Buffer.from('first'), { maxBytes: 10 });
    await deployment.writeFile(containerId, '/tmp/over', Buffer.from('2nd'), { maxBytes: 10 });
    expect(await sh('cat /tmp/over')).toBe('2nd');

    const onDir = await rejectionOf(
      deployment.writeFile(containerId, '/tmp', Buffer.from('x'), { maxBytes: 10 }),
    );
    expect(reasonOf(onDir)).toBe('NOT_A_FILE');
    expect(await sh('test -d /tmp && echo dir')).toBe('dir\n');

    const noParent = await rejectionOf(
      deployment.writeFile(containerId, '/no/such/dir/f', Buffer.from('x'), { maxBytes: 10 }),
    );
    expect(reasonOf(noParent)).toBe('FILE_NOT_FOUND');
    const fileParent = await rejectionOf(
      deployment.writeFile(containerId, '/tmp/over/f', Buffer.from('x'), { maxBytes: 10 }),
    );
    expect(reasonOf(fileParent)).toBe('NOT_A_DIRECTORY');
  });

  it('refuses files over the limit without reading or sending them', async () => {
    const tooBig = await rejectionOf(
      deployment.writeFile(containerId, '/tmp/big', randomBytes(2048), { maxBytes: 1024 }),
    );
    expect(isCodedError(tooBig, 'FILE_TOO_LARGE')).toBe(true);
    expect(reasonOf(tooBig)).toBe('FILE_TOO_LARGE');

    // An endless source: only the limit stops it, so it must not be buffered as a whole.
    let produced = 0;
    const endless = new Readable({
      read() {
        produced += 64 * 1024;
        this.push(Buffer.alloc(64 * 1024));
      },
    });
    const streamed = await rejectionOf(
      deployment.writeFile(containerId, '/tmp/endless', endless, { maxBytes: MiB }),
    );
    expect(reasonOf(streamed)).toBe('FILE_TOO_LARGE');
    expect(produced).toBeLessThan(4 * MiB);
    expect((await execIn(containerId, ['test', '-e', '/tmp/endless'])).exitCode).not.toBe(0);

    await deployment.writeFile(containerId, '/tmp/two-k', randomBytes(2048), { maxBytes: 4096 });
    const read = await rejectionOf(
      deployment.readFile(containerId, '/tmp/two-k', { maxBytes: 1024 }),
    );
    expect(reasonOf(read)).toBe('FILE_TOO_LARGE');
  });

  it('lists a directory one level deep, and readFile on it lists too', async () => {
    await sh(
      'mkdir -p /tmp/tree/sub/deeper && echo -n abc > /tmp/tree/a.txt && ' +
        'echo deep > /tmp/tree/sub/deeper/x && ln -s a.txt /tmp/tree/link && chmod 750 /tmp/tree/sub',
    );
    const listing = await listingOf(containerId, '/tmp/tree');
    expect(listing.truncated).toBe(false);
    expect(listing.entries.map((e) => [e.name, e.type])).toEqual([
      ['a.txt', 'file'],
      ['link', 'symlink'],
      ['sub', 'directory'],
    ]);
    const [file, link, sub] = listing.entries;
    expect(file.size).toBe(3);
    expect(link.linkTarget).toBe('a.txt');
    expect(sub.mode).toBe(0o750);
    expect(file.mtime.getTime()).toBeGreaterThan(Date.now() - 5 * 60_000);

    expect((await listingOf(containerId, '/tmp/tree/')).entries).toHaveLength(3);

    const root = await listingOf(containerId, '/');
    expect(root.entries.map((e) => e.name)).toEqual(expect.arrayContaining(['bin', 'etc', 'tmp']));

    const capped = await listingOf(containerId, '/tmp/tree', { maxEntries: 2 });
    expect(capped).toMatchObject({ truncated: true });
    expect(capped.entries).toHaveLength(2);
  });

  it('stats files, directories and links', async () => {
    expect(await infoOf(containerId, '/tmp')).toMatchObject({
      type: 'directory',
      mode: 0o1777,
    });
    expect(await infoOf(containerId, '/tmp/tree/a.txt')).toMatchObject({
      name: 'a.txt',
      type: 'file',
      size: 3,
    });
    // A link is followed: its info is its target's.
    expect(await infoOf(containerId, '/tmp/tree/link')).toMatchObject({
      path: '/tmp/tree/a.txt',
      type: 'file',
      size: 3,
    });
    // Reading a link reads its target.
    const viaLink = await deployment.readFile(containerId, '/tmp/tree/link', { maxBytes: 10 });
    expect((await contentOf(viaLink)).toString()).toBe('abc');
  });

  it('reports missing files and containers', async () => {
    for (const call of [
      () => deployment.readFile(containerId, '/no/such/file', { maxBytes: 10 }),
      () => deployment.readFile(containerId, '/no/such/dir/', { maxBytes: 10 }),
      // A component on the way that is a file: the path cannot exist.
      () => deployment.readFile(containerId, '/etc/passwd/x', { maxBytes: 10 }),
    ]) {
      const error = await rejectionOf(call());
      expect(isCodedError(error)).toBe(true);
      expect(reasonOf(error)).toBe('FILE_NOT_FOUND');
      expect((error as Error).message).not.toMatch(/overlay|merged|var\/lib\/docker/);
    }
    const gone = 'sandboxd-test-no-such-container';
    for (const call of [
      () => deployment.readFile(gone, '/tmp', { maxBytes: 10 }),
      () => deployment.readFile(gone, '/etc/passwd', { maxBytes: 10 }),
      () => deployment.writeFile(gone, '/tmp/x', Buffer.from('x'), { maxBytes: 10 }),
    ]) {
      expect(isCodedError(await rejectionOf(call()), 'CONTAINER_MISSING')).toBe(true);
    }
  });

  it('deletes files and trees, and says when there was nothing', async () => {
    await sh('mkdir -p /tmp/gone/a/b && echo x > /tmp/gone/a/b/c && echo y > /tmp/gone-file');
    expect(await deployment.deleteFile(containerId, '/tmp/gone')).toBe('deleted');
    expect(await deployment.deleteFile(containerId, '/tmp/gone-file')).toBe('deleted');
    expect(await deployment.deleteFile(containerId, '/tmp/gone')).toBe('missing');
    expect((await execIn(containerId, ['test', '-e', '/tmp/gone'])).exitCode).not.toBe(0);
    // A link is removed itself, its target stays.
    await sh('echo keep > /tmp/kept && ln -s /tmp/kept /tmp/kept-link');
    expect(await deployment.deleteFile(containerId, '/tmp/kept-link')).toBe('deleted');
    expect(await sh('cat /tmp/kept')).toBe('keep\n');
    const root = await rejectionOf(deployment.deleteFile(containerId, '/'));
    expect(isCodedError(root, 'VALIDATION_FAILED')).toBe(true);
  });

  it('rejects relative, NUL and ".." paths before reaching the engine', async () => {
    for (const path of ['tmp/x', '', '/tmp/\0x', '/tmp/../etc/passwd', '/../../etc/passwd']) {
      for (const call of [
        () => deployment.readFile(containerId, path, { maxBytes: 10 }),
        () => deployment.writeFile(containerId, path, Buffer.from('x'), { maxBytes: 10 }),
        () => deployment.deleteFile(containerId, path),
      ]) {
        const error = await rejectionOf(call());
        expect(isCodedError(error, 'VALIDATION_FAILED')).toBe(true);
        expect(reasonOf(error)).toBe('VALIDATION_FAILED');
      }
    }
  });

  it('resolves symlinks inside the container, never on the host', async () => {
    // Absolute and climbing links to a path that exists only on the host.
    await sh(
      `ln -s ${hostMarker} /tmp/abs-escape && ln -s ../../../../../../..${hostMarker} /tmp/rel-escape && ` +
        `ln -s ../../../../../../.. /tmp/up && ln -s /etc/passwd /tmp/passwd-link`,
    );
    expect(await readFile(hostMarker, 'utf8')).toBe(HOST_SECRET);
    for (const path of ['/tmp/abs-escape', '/tmp/rel-escape', `/tmp/up${hostMarker}`]) {
      const error = await rejectionOf(deployment.readFile(containerId, path, { maxBytes: 1024 }));
      expect(reasonOf(error)).toBe('FILE_NOT_FOUND');
    }
    // `..` links stop at the container's root: /tmp/up/etc/passwd is the container's passwd.
    const containerPasswd = await sh('cat /etc/passwd');
    for (const path of ['/tmp/passwd-link', '/tmp/up/etc/passwd']) {
      const read = await deployment.readFile(containerId, path, { maxBytes: 4096 });
      expect((await contentOf(read)).toString()).toBe(containerPasswd);
    }
    // The engine-managed /etc/hostname is the container's, not the host's.
    const hostname = (
      await contentOf(
        await deployment.readFile(containerId, '/etc/hostname', {
          maxBytes: 1024,
        }),
      )
    ).toString();
    expect(hostname.trim()).toBe(containerId.slice(0, 12));
    // Writing through an escaping link lands inside the container, never on the host.
    await sh(`mkdir -p ${hostDir}`);
    await deployment.writeFile(containerId, '/tmp/abs-escape', Buffer.from('written'), {
      maxBytes: 100,
    });
    expect(await readFile(hostMarker, 'utf8')).toBe(HOST_SECRET);
    expect(await sh(`cat ${hostMarker}`)).toBe('written');
  });

  it('reads, lists, stats and writes a stopped container', async () => {
    const stopped = (await deployment.provision(demoSpec())).containerId;
    await execIn(stopped, ['sh', '-c', 'echo persisted > /tmp/note']);
    expect(await deployment.stop(stopped, 1)).toBe('stopped');
    expect((await deployment.inspect(stopped))?.running).toBe(false);

    const read = await deployment.readFile(stopped, '/tmp/note', { maxBytes: 100 });
    expect((await contentOf(read)).toString()).toBe('persisted\n');
    expect((await listingOf(stopped, '/tmp')).entries.map((e) => e.name)).toContain('note');
    await deployment.writeFile(stopped, '/tmp/while-stopped', Buffer.from('offline'), {
      maxBytes: 100,
    });
    expect(await infoOf(stopped, '/tmp/while-stopped')).toMatchObject({ size: 7 });
    // Deleting needs a process inside: refused while stopped.
    const error = await rejectionOf(deployment.deleteFile(stopped, '/tmp/note'));
    expect(isCodedError(error, 'SANDBOX_NOT_RUNNING')).toBe(true);
  });
});
