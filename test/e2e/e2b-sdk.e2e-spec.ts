import { CommandExitError, Sandbox } from 'e2b';
import { Sandbox as OldSandbox } from 'e2b-2.50';
import { E2bServer } from '@app/e2b';
import { Backend, TestApp, appFromEnv, createTestApp, eventually } from '../support/app';
import { DEMO_IMAGE, ensureDemoImage } from '../support/docker';

/**
 * The real e2b SDK (pinned, unchanged) against sandboxd's E2B listener, through the real AppModule
 * and Docker, on both backends; one older SDK (2.50, the /sandboxes create route) as well.
 */
describe.each<Backend>(['postgres+redis', 'embedded'])('e2b SDK (%s)', (backend) => {
  let t: TestApp;
  let opts: { apiKey: string; apiUrl: string; sandboxUrl: string };
  let sbx: Sandbox;

  beforeAll(async () => {
    await ensureDemoImage();
    t = await createTestApp(backend, { E2B_PORT: '0', E2B_TEMPLATES: `base=${DEMO_IMAGE}` });
    const url = `http://127.0.0.1:${t.app.get(E2bServer).port}`;
    opts = { apiKey: 'e2b_0123456789abcdef', apiUrl: url, sandboxUrl: url };
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  });

  it('should run the README quick start', async () => {
    sbx = await Sandbox.create({ ...opts, metadata: { suite: 'e2b' } });
    const result = await sbx.commands.run('echo hello');
    expect(result.stdout).toBe('hello\n');
    expect(result.exitCode).toBe(0);
    await sbx.files.write('/tmp/hello.txt', 'hi there');
    expect(await sbx.files.read('/tmp/hello.txt')).toBe('hi there');
  });

  it('should stream stdout and stderr as it comes', async () => {
    const seen: string[] = [];
    const result = await sbx.commands.run('echo one; echo err >&2; echo two', {
      onStdout: (d) => void seen.push(`out:${d}`),
      onStderr: (d) => void seen.push(`err:${d}`),
      envs: { GREETING: 'x' },
    });
    expect(result.stdout).toBe('one\ntwo\n');
    expect(result.stderr).toBe('err\n');
    expect(seen.join('')).toContain('out:one');
    const env = await sbx.commands.run('echo $GREETING', {
      envs: { GREETING: 'hey' },
      cwd: '/tmp',
    });
    expect(env.stdout).toBe('hey\n');
    expect((await sbx.commands.run('pwd', { cwd: '/tmp' })).stdout).toBe('/tmp\n');
  });

  it('should report a non-zero exit as CommandExitError', async () => {
    await expect(sbx.commands.run('exit 3')).rejects.toBeInstanceOf(CommandExitError);
    await sbx.commands.run('exit 3').catch((error: CommandExitError) => {
      expect(error.exitCode).toBe(3);
    });
  });

  it('should kill a command at its timeoutMs', async () => {
    const started = Date.now();
    await expect(sbx.commands.run('sleep 30', { timeoutMs: 1500 })).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(20_000);
    // The whole tree is killed (not only the client's stream).
    await eventually(async () => {
      const left = await sbx.commands.run('ps | grep "sleep 30" | grep -v grep || true');
      return left.stdout === '' ? true : undefined;
    });
  });

  it('should list, kill and reconnect background commands', async () => {
    const bg = await sbx.commands.run('sleep 60', { background: true, timeoutMs: 0 });
    expect(bg.pid).toBeGreaterThan(0);
    const listed = await sbx.commands.list();
    expect(listed.map((p) => p.pid)).toContain(bg.pid);
    const echo = await sbx.commands.run('sleep 1; echo later', { background: true });
    const again = await sbx.commands.connect(echo.pid);
    const done = await again.wait();
    expect(done.exitCode).toBe(0);
    expect(await sbx.commands.kill(bg.pid)).toBe(true);
    expect((await sbx.commands.list()).map((p) => p.pid)).not.toContain(bg.pid);
    expect(await sbx.commands.kill(999_999)).toBe(false);
  });

  it('should feed stdin to a command and close it', async () => {
    const cat = await sbx.commands.run('cat', { background: true, stdin: true });
    await sbx.commands.sendStdin(cat.pid, 'fed through stdin\n');
    await sbx.commands.closeStdin(cat.pid);
    const done = await cat.wait();
    expect(done.stdout).toBe('fed through stdin\n');
    expect(done.exitCode).toBe(0);
  });

  it('should read and write files, text and binary, and list, check, make and remove', async () => {
    const bytes = new Uint8Array([0, 1, 2, 255, 254, 10, 13]);
    await sbx.files.write('/tmp/data/bin.dat', bytes.buffer);
    const back = await sbx.files.read('/tmp/data/bin.dat', { format: 'bytes' });
    expect(Buffer.from(back)).toEqual(Buffer.from(bytes));
    expect(await sbx.files.makeDir('/tmp/data/sub')).toBe(true);
    expect(await sbx.files.makeDir('/tmp/data/sub')).toBe(false);
    await sbx.files.write('/tmp/data/sub/a.txt', 'a');
    const entries = await sbx.files.list('/tmp/data');
    expect(entries.map((e) => e.name).sort()).toEqual(['bin.dat', 'sub']);
    const deep = await sbx.files.list('/tmp/data', { depth: 2 });
    expect(deep.map((e) => e.path)).toContain('/tmp/data/sub/a.txt');
    expect(await sbx.files.exists('/tmp/data/sub/a.txt')).toBe(true);
    await sbx.files.remove('/tmp/data/sub');
    expect(await sbx.files.exists('/tmp/data/sub/a.txt')).toBe(false);
    await expect(sbx.files.read('/tmp/nope.txt')).rejects.toThrow();
  });

  it('should answer getInfo and the paged list', async () => {
    const info = await sbx.getInfo();
    expect(info.sandboxId).toBe(sbx.sandboxId);
    expect(info.state).toBe('running');
    expect(info.metadata).toEqual({ suite: 'e2b' });
    expect(new Date(info.endAt).getTime()).toBeGreaterThan(Date.now());
    const second = await Sandbox.create({ ...opts, metadata: { suite: 'e2b' } });
    const paginator = Sandbox.list({ ...opts, limit: 1, query: { metadata: { suite: 'e2b' } } });
    const ids: string[] = [];
    while (paginator.hasNext) ids.push(...(await paginator.nextItems()).map((s) => s.sandboxId));
    expect(ids.sort()).toEqual([sbx.sandboxId, second.sandboxId].sort());
    expect(await second.kill()).toBe(true);
  });

  it('should move the end of life with setTimeout, from now', async () => {
    const asked = Date.now();
    await sbx.setTimeout(600_000);
    const endAt = new Date((await sbx.getInfo()).endAt).getTime();
    // Whole seconds from the start, so up to a second later than asked; never earlier.
    expect(endAt).toBeGreaterThanOrEqual(asked + 600_000 - 1000);
    expect(endAt).toBeLessThanOrEqual(Date.now() + 600_000 + 1000);
    await sbx.setTimeout(120_000);
    const shorter = new Date((await sbx.getInfo()).endAt).getTime();
    expect(shorter).toBeLessThan(endAt - 400_000);
  });

  it('should pause, then connect with the files kept', async () => {
    await sbx.files.write('/root/kept.txt', 'still here');
    expect(await sbx.pause()).toBe(true);
    expect((await sbx.getInfo()).state).toBe('paused');
    const resumed = await Sandbox.connect(sbx.sandboxId, opts);
    expect(await resumed.files.read('/root/kept.txt')).toBe('still here');
    expect((await resumed.commands.run('echo back')).stdout).toBe('back\n');
  });

  it('should answer bad data-plane input with the errors the SDK types, never a 5xx or a hang', async () => {
    const url = opts.sandboxUrl;
    const rpc = (path: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${url}/${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'connect-protocol-version': '1',
          'e2b-sandbox-id': sbx.sandboxId,
          ...headers,
        },
        body,
      });
    // An unknown sandbox: unavailable, as a dead sandbox behind E2B's proxy.
    const unknown = await rpc('process.Process/List', '{}', { 'e2b-sandbox-id': 'nosuchsandbox' });
    expect(await unknown.json()).toMatchObject({ code: 'unavailable' });
    // Malformed JSON, and a stream frame that lies about its length.
    const malformed = await rpc('filesystem.Filesystem/Stat', '{"path":');
    expect(malformed.status).toBeLessThan(500);
    expect(await malformed.json()).toMatchObject({ code: 'invalid_argument' });
    const frame = await fetch(`${url}/process.Process/Start`, {
      method: 'POST',
      headers: { 'content-type': 'application/connect+json', 'e2b-sandbox-id': sbx.sandboxId },
      body: Buffer.from([0, 0, 0, 0, 200, 0x7b, 0x7d]),
    });
    expect(frame.status).toBeLessThan(500);
    // An unknown pid, and huge stdin.
    await expect(sbx.commands.kill(424_242)).resolves.toBe(false);
    await expect(sbx.commands.sendStdin(424_242, 'x')).rejects.toThrow(/not found/i);
    const huge = await rpc(
      'process.Process/SendInput',
      JSON.stringify({
        process: { pid: 1 },
        input: { stdin: Buffer.alloc(2 * 1024 * 1024).toString('base64') },
      }),
    );
    expect(huge.status).toBeLessThan(500);
    // Paths: `..` stays inside the container, a write onto a directory is refused.
    await sbx.files.write('/tmp/inside.txt', 'in');
    expect(await sbx.files.read('/tmp/../../tmp/inside.txt')).toBe('in');
    await expect(sbx.files.write('/tmp', 'not a file')).rejects.toThrow();
    // /files checks its user as the Connect calls do, whether named by Basic auth or ?username=.
    const badUser = await fetch(`${url}/files?path=/tmp/inside.txt&username=..%2Froot`, {
      headers: { 'e2b-sandbox-id': sbx.sandboxId },
    });
    expect(badUser.status).toBe(400);
    expect(await badUser.json()).toEqual({ code: 400, message: "invalid user '../root'" });
    // Unserved features answer unimplemented, with a message.
    const watch = await rpc('filesystem.Filesystem/CreateWatcher', '{"path":"/tmp"}');
    expect(await watch.json()).toMatchObject({ code: 'unimplemented' });
    // The control plane's errors carry `code`, the SDK's way of telling 404 from a failure.
    const missing = await fetch(`${url}/sandboxes/nosuchsandbox`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ code: 404, message: expect.any(String) });
    const badCreate = await fetch(`${url}/v2/sandboxes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"templateID":"base","timeout":-5}',
    });
    expect(badCreate.status).toBe(400);
    expect((await fetch(`${url}/health`)).status).toBe(204);
  });

  it('should kill, and answer false for a sandbox that is gone', async () => {
    expect(await sbx.kill()).toBe(true);
    expect(await Sandbox.kill(sbx.sandboxId, opts)).toBe(false);
    await expect(Sandbox.connect('nosuchsandbox', opts)).rejects.toThrow(/not found/i);
  });

  it('should run 5 sandboxes in parallel', async () => {
    const all = await Promise.all(
      [0, 1, 2, 3, 4].map(async (n) => {
        const s = await Sandbox.create({ ...opts });
        const out = await s.commands.run(`echo ${n}`);
        await s.kill();
        return out.stdout;
      }),
    );
    expect(all).toEqual(['0\n', '1\n', '2\n', '3\n', '4\n']);
  });

  it('should serve SDK 2.50 on the /sandboxes create route', async () => {
    const old = await OldSandbox.create({ ...opts });
    expect((await old.commands.run('echo old')).stdout).toBe('old\n');
    await old.files.write('/tmp/o.txt', 'o');
    expect(await old.files.read('/tmp/o.txt')).toBe('o');
    expect(await old.kill()).toBe(true);
  });

  it('should refuse an unknown template with a clear message', async () => {
    await expect(Sandbox.create('no-such-template', opts)).rejects.toThrow(/template/);
  });
});

describe('e2b SDK across two API replicas (postgres+redis)', () => {
  let t: TestApp;
  let other: { app: { close(): Promise<void>; get: TestApp['app']['get'] } };
  let a: { apiKey: string; apiUrl: string; sandboxUrl: string };
  let b: typeof a;

  beforeAll(async () => {
    await ensureDemoImage();
    t = await createTestApp('postgres+redis', {
      E2B_PORT: '0',
      E2B_TEMPLATES: `base=${DEMO_IMAGE}`,
    });
    other = await appFromEnv(t.env);
    const at = (port: number | null) => `http://127.0.0.1:${port}`;
    const urlA = at(t.app.get(E2bServer).port);
    const urlB = at(other.app.get(E2bServer).port);
    a = { apiKey: 'k', apiUrl: urlA, sandboxUrl: urlA };
    b = { apiKey: 'k', apiUrl: urlB, sandboxUrl: urlB };
  }, 120_000);

  afterAll(async () => {
    await other?.app.close();
    await t?.close();
  });

  it('should list, reattach to and kill a background command from the other replica', async () => {
    const onA = await Sandbox.create(a);
    const bg = await onA.commands.run('sleep 60', { background: true, timeoutMs: 0 });
    const onB = await Sandbox.connect(onA.sandboxId, b);
    expect((await onB.commands.list()).map((p) => p.pid)).toContain(bg.pid);
    const short = await onA.commands.run('sleep 1; exit 4', { background: true });
    const reattached = await onB.commands.connect(short.pid);
    await expect(reattached.wait()).rejects.toMatchObject({ exitCode: 4 });
    expect(await onB.commands.kill(bg.pid)).toBe(true);
    expect((await onA.commands.list()).map((p) => p.pid)).not.toContain(bg.pid);
    expect(await onB.kill()).toBe(true);
  });
});
