import { AuthenticationError, CommandExitError, Sandbox } from 'e2b';
import { Sandbox as OldSandbox } from 'e2b-2.50';
import { DataSource } from 'typeorm';
import { ANONYMOUS_ACTOR } from '@app/domain';
import { E2bServer } from '@app/e2b';
import { SandboxService } from '@app/sandbox';
import { Backend, TestApp, appFromEnv, createTestApp, eventually } from '../support/app';
import { DEMO_IMAGE, ensureDemoImage } from '../support/docker';

/** The envdAccessToken the SDK got for a sandbox (it sends it as X-Access-Token). */
const tokenOf = (s: Sandbox | OldSandbox): string | undefined =>
  (s as unknown as { envdAccessToken?: string }).envdAccessToken;

/** The end of life the SDK's getInfo reports, in epoch ms. */
const endAtOf = async (s: Sandbox): Promise<number> =>
  new Date((await s.getInfo()).endAt).getTime();

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
    const asked = Date.now();
    const resumed = await Sandbox.connect(sbx.sandboxId, { ...opts, timeoutMs: 240_000 });
    expect(await resumed.files.read('/root/kept.txt')).toBe('still here');
    expect((await resumed.commands.run('echo back')).stdout).toBe('back\n');
    // A resumed sandbox's clock starts again: its end is now + the timeout connect gave.
    const endAt = await endAtOf(resumed);
    expect(endAt).toBeGreaterThanOrEqual(asked + 240_000 - 1000);
    expect(endAt).toBeLessThanOrEqual(Date.now() + 240_000 + 1000);
    // The same token as before the pause.
    expect(tokenOf(resumed)).toBe(tokenOf(sbx));
  });

  it("should apply connect's timeout to a running sandbox only when it ends later", async () => {
    const s = await Sandbox.create({ ...opts, timeoutMs: 120_000 });
    const asked = Date.now();
    await Sandbox.connect(s.sandboxId, { ...opts, timeoutMs: 900_000 });
    const longer = await endAtOf(s);
    expect(longer).toBeGreaterThanOrEqual(asked + 900_000 - 1000);
    expect(longer).toBeLessThanOrEqual(Date.now() + 900_000 + 1000);
    // Shorter, or E2B's default of 300 s when none is given: the end stays where it is.
    await Sandbox.connect(s.sandboxId, { ...opts, timeoutMs: 60_000 });
    await Sandbox.connect(s.sandboxId, opts);
    expect(await endAtOf(s)).toBe(longer);
    expect(await s.kill()).toBe(true);
  });

  it('should give each sandbox its own access token, and refuse a missing or foreign one', async () => {
    const other = await Sandbox.create({ ...opts });
    const mine = tokenOf(sbx)!;
    expect(mine).toMatch(/^[0-9a-f]{64}$/);
    expect(tokenOf(other)).toMatch(/^[0-9a-f]{64}$/);
    expect(tokenOf(other)).not.toBe(mine);
    // Connect (and getInfo's detail, which SDK 2.0 read it from) answers the same token.
    expect(tokenOf(await Sandbox.connect(sbx.sandboxId, opts))).toBe(mine);
    const detail = await fetch(`${opts.apiUrl}/sandboxes/${sbx.sandboxId}`);
    expect(((await detail.json()) as { envdAccessToken?: string }).envdAccessToken).toBe(mine);
    // The SDK pointed at this sandbox with the other sandbox's token, or with none.
    const as = (token: string | undefined) =>
      new Sandbox({
        ...opts,
        sandboxId: sbx.sandboxId,
        envdVersion: '0.5.7',
        envdAccessToken: token,
      });
    for (const impostor of [as(tokenOf(other)), as(undefined), as(`${mine}0`)]) {
      await expect(impostor.commands.run('echo no')).rejects.toBeInstanceOf(AuthenticationError);
      await expect(impostor.commands.list()).rejects.toBeInstanceOf(AuthenticationError);
      await expect(impostor.files.list('/tmp')).rejects.toBeInstanceOf(AuthenticationError);
      await expect(impostor.files.read('/tmp/hello.txt')).rejects.toBeInstanceOf(
        AuthenticationError,
      );
      await expect(impostor.files.write('/tmp/x.txt', 'x')).rejects.toBeInstanceOf(
        AuthenticationError,
      );
    }
    expect((await sbx.commands.run('echo mine')).stdout).toBe('mine\n');
    // Stored sealed: no token is in the database in clear.
    const rows: { sealed_token: string | null }[] = await t.app
      .get(DataSource)
      .query('SELECT "sealed_token" FROM "sandbox_access_token"');
    expect(rows.length).toBeGreaterThanOrEqual(2);
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(mine);
    expect(dump).not.toContain(tokenOf(other)!);
    expect(await other.kill()).toBe(true);
  });

  it("should serve the SDK's signed file URLs, and refuse a tampered or expired one", async () => {
    await sbx.files.write('/tmp/signed.txt', 'signed content');
    const withId = { headers: { 'e2b-sandbox-id': sbx.sandboxId } };
    const download = await sbx.downloadUrl('/tmp/signed.txt');
    expect(download).toMatch(/signature=v1_/);
    const read = await fetch(download, withId);
    expect(read.status).toBe(200);
    expect(await read.text()).toBe('signed content');
    const tampered = await fetch(download.replace('signed.txt', 'hello.txt'), withId);
    expect(tampered.status).toBe(401);
    const expired = await sbx.downloadUrl('/tmp/signed.txt', { useSignatureExpiration: -60 });
    expect((await fetch(expired, withId)).status).toBe(401);
    const lasting = await sbx.downloadUrl('/tmp/signed.txt', { useSignatureExpiration: 600 });
    expect((await fetch(lasting, withId)).status).toBe(200);
    const upload = await sbx.uploadUrl('/tmp/uploaded.txt');
    const form = new FormData();
    form.append('file', new Blob(['sent by url']), '/tmp/uploaded.txt');
    const sent = await fetch(upload, { method: 'POST', body: form, ...withId });
    expect(sent.status).toBe(200);
    expect(await sbx.files.read('/tmp/uploaded.txt')).toBe('sent by url');
    // A read URL does not write.
    const wrongOp = await fetch(download, { method: 'POST', body: form, ...withId });
    expect(wrongOp.status).toBe(401);
  });

  it('should issue a token at the first E2B connect of a /v1 sandbox, and none to an open one', async () => {
    const { sandbox } = await t.app
      .get(SandboxService)
      .create(ANONYMOUS_ACTOR, { image: DEMO_IMAGE, maxLifetimeSeconds: 600 }, { wait: true });
    const unconnected = new Sandbox({ ...opts, sandboxId: sandbox.id, envdVersion: '0.5.7' });
    const refusal = await unconnected.commands.run('echo x').catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(AuthenticationError);
    expect(String(refusal)).toMatch(/connect to it through the E2B API first/);
    const connected = await Sandbox.connect(sandbox.id, opts);
    expect(tokenOf(connected)).toMatch(/^[0-9a-f]{64}$/);
    expect((await connected.commands.run('echo v1')).stdout).toBe('v1\n');
    expect(await connected.kill()).toBe(true);
    // secure: false (SDK 2.50 still has the option): no token, and the data plane is open.
    const open = await OldSandbox.create({ ...opts, secure: false });
    expect(tokenOf(open)).toBeUndefined();
    expect((await open.commands.run('echo open')).stdout).toBe('open\n');
    expect(await open.kill()).toBe(true);
  });

  it('should pass stdin that is not UTF-8 through byte for byte', async () => {
    const cat = await sbx.commands.run('cat > /tmp/stdin.bin', { background: true, stdin: true });
    await sbx.commands.sendStdin(cat.pid, new Uint8Array([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x0a]));
    await sbx.commands.sendStdin(cat.pid, 'é');
    await sbx.commands.closeStdin(cat.pid);
    expect((await cat.wait()).exitCode).toBe(0);
    const written = await sbx.files.read('/tmp/stdin.bin', { format: 'bytes' });
    expect(Buffer.from(written)).toEqual(
      Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x0a, 0xc3, 0xa9]),
    );
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
          'x-access-token': tokenOf(sbx)!,
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
      headers: {
        'content-type': 'application/connect+json',
        'e2b-sandbox-id': sbx.sandboxId,
        'x-access-token': tokenOf(sbx)!,
      },
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
      headers: { 'e2b-sandbox-id': sbx.sandboxId, 'x-access-token': tokenOf(sbx)! },
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

  it("should stream a background command's further output to Connect on the other replica", async () => {
    const onA = await Sandbox.create(a);
    const cmd = await onA.commands.run(
      'i=0; while [ $i -lt 8 ]; do i=$((i+1)); echo tick $i; echo warn $i >&2; sleep 0.3; done; exit 5',
      { background: true, timeoutMs: 0 },
    );
    const onB = await Sandbox.connect(onA.sandboxId, b);
    const seen: string[] = [];
    const handle = await onB.commands.connect(cmd.pid, { onStdout: (d) => void seen.push(d) });
    const ended = (await handle.wait().catch((error: unknown) => error)) as CommandExitError;
    expect(ended).toBeInstanceOf(CommandExitError);
    expect(ended.exitCode).toBe(5);
    expect(ended.stdout).toContain('tick 8\n');
    expect(ended.stderr).toContain('warn 8\n');
    // Output written after the reattach came as it was written, not only at the end.
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.join('')).toBe(ended.stdout);
    expect(await onB.kill()).toBe(true);
  });

  it('should follow a command to its end after the replica that started it went away', async () => {
    const third = await appFromEnv(t.env);
    const urlC = `http://127.0.0.1:${third.app.get(E2bServer).port}`;
    const c = { ...a, apiUrl: urlC, sandboxUrl: urlC };
    const onC = await Sandbox.create(c);
    const cmd = await onC.commands.run(
      'for i in 1 2 3 4 5 6 7 8 9 10; do echo step $i; sleep 0.3; done',
      { background: true, timeoutMs: 0 },
    );
    await third.app.close();
    const onB = await Sandbox.connect(onC.sandboxId, b);
    const done = await (await onB.commands.connect(cmd.pid)).wait();
    expect(done.exitCode).toBe(0);
    expect(done.stdout).toContain('step 10\n');
    expect(await onB.kill()).toBe(true);
  });
});
