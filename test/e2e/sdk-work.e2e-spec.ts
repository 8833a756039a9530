import { randomBytes } from 'node:crypto';
import { ExecEvent, FetchLike, LoadedSandbox, SandboxdClient, SandboxdError } from '@app/sdk';
import { TestApp, createTestApp, eventually } from '../support/app';
import { DEMO_IMAGE, ensureDemoImage } from '../support/docker';

/** The demo image's own /etc/passwd: what any path inside the sandbox may resolve to. */
const DEMO_PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n';

describe('SDK against the real service (Docker, PostgreSQL, Redis)', () => {
  let t: TestApp;
  let baseUrl: string;
  let client: SandboxdClient;
  let sandbox: LoadedSandbox;
  const suite = `sdk-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    await ensureDemoImage();
    t = await createTestApp('postgres+redis');
    await t.app.listen(0, '127.0.0.1');
    baseUrl = await t.app.getUrl();
    client = new SandboxdClient({ baseUrl });
    sandbox = await client.create(
      { image: DEMO_IMAGE, name: suite, labels: { suite }, ports: [8080] },
      { wait: true },
    );
  });

  afterAll(async () => {
    await t?.close();
  });

  async function processes(): Promise<string> {
    return (await sandbox.exec(['ps', '-o', 'pid,args'])).stdout;
  }

  it('should create, look up by name, keep alive, protect and list ports', async () => {
    expect(sandbox.info.state).toBe('running');
    const byName = await client.get(suite);
    expect(byName.id).toBe(sandbox.id);
    expect((await byName.keepAlive()).autoStopAt).not.toBeNull();
    expect((await byName.setProtected(true)).protected).toBe(true);
    expect((await byName.setProtected(false)).protected).toBe(false);
    const ports = await sandbox.ports();
    expect(ports).toEqual([
      expect.objectContaining({ containerPort: 8080, hostPort: sandbox.info.ports['8080'] }),
    ]);
  });

  it('should map a missing sandbox to SANDBOX_NOT_FOUND', async () => {
    const error = await client.get('no-such-sandbox').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SandboxdError);
    expect(error).toMatchObject({ status: 404, code: 'SANDBOX_NOT_FOUND' });
  });

  it('should report a refused connection as NETWORK_ERROR', async () => {
    const nowhere = new SandboxdClient({ baseUrl: 'http://127.0.0.1:1' });
    await expect(nowhere.get('x')).rejects.toMatchObject({ status: 0, code: 'NETWORK_ERROR' });
  });

  it('should run a command to its end with both streams and exit code 3', async () => {
    const result = await sandbox.exec(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(result).toMatchObject({
      exitCode: 3,
      stdout: 'out\n',
      stderr: 'err\n',
      timedOut: false,
      truncated: false,
    });
    const viaShell = await sandbox.exec('echo "$GREETING" from $(pwd)', {
      env: { GREETING: 'hello' },
      cwd: '/tmp',
    });
    expect(viaShell.stdout).toBe('hello from /tmp\n');
  });

  it('should stream both outputs and the exit code', async () => {
    const events: ExecEvent[] = [];
    for await (const event of sandbox.execStream(['sh', '-c', 'echo out; echo err >&2; exit 3'])) {
      events.push(event);
    }
    const text = (type: string) =>
      events.map((e) => (e.type === type && 'data' in e ? e.data : '')).join('');
    expect(text('stdout')).toBe('out\n');
    expect(text('stderr')).toBe('err\n');
    expect(events[events.length - 1]).toMatchObject({ type: 'exit', exitCode: 3, timedOut: false });
  });

  it('should deliver lines live, as the command prints them', async () => {
    const started = Date.now();
    let firstLineAt = 0;
    let exitAt = 0;
    const lines: string[] = [];
    const script = 'for i in 1 2 3 4; do echo line$i; sleep 1; done';
    for await (const event of sandbox.execStream(['sh', '-c', script])) {
      if (event.type === 'stdout') {
        firstLineAt ||= Date.now();
        lines.push(event.data);
      }
      if (event.type === 'exit') exitAt = Date.now();
    }
    expect(lines.join('')).toBe('line1\nline2\nline3\nline4\n');
    expect(firstLineAt - started).toBeLessThan(exitAt - started);
    expect(exitAt - firstLineAt).toBeGreaterThanOrEqual(1500);
  });

  it('should kill a command at its timeout, leaving no process behind', async () => {
    const result = await sandbox.exec(['sleep', '100'], { timeoutSeconds: 2 });
    expect(result.timedOut).toBe(true);
    expect(result.durationMs).toBeLessThan(20_000);
    await eventually(async () => ((await processes()).includes('sleep 100') ? undefined : true));
  });

  it('should kill the command when the stream loop is left early', async () => {
    for await (const event of sandbox.execStream(['sh', '-c', 'echo started; sleep 101'])) {
      expect(event).toEqual({ type: 'stdout', data: 'started\n' });
      break;
    }
    await eventually(async () => ((await processes()).includes('sleep 101') ? undefined : true));
  });

  it('should upload 5 MiB of random bytes and read them back identical', async () => {
    const data = new Uint8Array(randomBytes(5 * 1024 * 1024));
    await sandbox.exec(['mkdir', '-p', '/tmp/sdk']);
    const written = await sandbox.writeFile('/tmp/sdk/blob.bin', data, { mode: 0o600 });
    expect(written).toMatchObject({
      path: '/tmp/sdk/blob.bin',
      size: data.byteLength,
      mode: '0600',
    });
    const back = await sandbox.readFile('/tmp/sdk/blob.bin');
    expect(back.byteLength).toBe(data.byteLength);
    expect(Buffer.compare(Buffer.from(back), Buffer.from(data))).toBe(0);
  });

  it('should list a directory, write text and delete files', async () => {
    await sandbox.exec(['mkdir', '-p', '/tmp/listing/sub']);
    await sandbox.writeFile('/tmp/listing/a.txt', 'hello\n');
    const listing = await sandbox.listDir('/tmp/listing');
    expect(listing.path).toBe('/tmp/listing');
    expect(listing.entries).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'a.txt', type: 'file', size: 6 }),
        expect.objectContaining({ name: 'sub', type: 'directory' }),
      ]),
    );
    expect(new TextDecoder().decode(await sandbox.readFile('/tmp/listing/a.txt'))).toBe('hello\n');
    await expect(sandbox.readFile('/tmp/listing')).rejects.toMatchObject({ code: 'NOT_A_FILE' });
    await sandbox.deleteFile('/tmp/listing/a.txt');
    await expect(sandbox.readFile('/tmp/listing/a.txt')).rejects.toMatchObject({ status: 404 });
  });

  it.each(['../../etc/passwd', 'tmp/../../etc/passwd', '/tmp/\0x'])(
    'should refuse the path %j with a 4xx',
    async (path) => {
      for (const attempt of [() => sandbox.readFile(path), () => sandbox.writeFile(path, 'x')]) {
        const error = await attempt().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(SandboxdError);
        const { status } = error as SandboxdError;
        expect(status).toBeGreaterThanOrEqual(400);
        expect(status).toBeLessThan(500);
      }
    },
  );

  it('should never leave the sandbox through .. in an absolute path', async () => {
    const answer = await sandbox
      .readFile('/tmp/../../../../etc/passwd')
      .then((bytes) => new TextDecoder().decode(bytes))
      .catch((e: unknown) => e);
    // Either refused, or the sandbox's own file: never the host's.
    if (answer instanceof SandboxdError) expect(answer.status).toBeLessThan(500);
    else expect(answer).toBe(DEMO_PASSWD);
  });

  it('should go through every page of a list', async () => {
    const label = `pages-${randomBytes(3).toString('hex')}`;
    const made = await Promise.all(
      [1, 2, 3].map(() => client.create({ image: DEMO_IMAGE, labels: { list: label } })),
    );
    const urls: string[] = [];
    const counting: FetchLike = (url, init) => {
      urls.push(url);
      return fetch(url, init);
    };
    const paged = new SandboxdClient({ baseUrl, fetch: counting });
    const seen: string[] = [];
    for await (const view of paged.list({ labels: { list: label }, limit: 1 })) seen.push(view.id);
    expect(seen.sort()).toEqual(made.map((s) => s.id).sort());
    expect(urls.length).toBeGreaterThanOrEqual(3);
    expect(urls.slice(1).every((u) => u.includes('cursor='))).toBe(true);
    await Promise.all(made.map((s) => s.waitUntil('running', { timeoutMs: 60_000 })));
    await Promise.all(made.map((s) => s.delete({ force: true })));
  });

  it('should refuse exec and file access on a stopped sandbox with SANDBOX_NOT_RUNNING', async () => {
    const other = await client.create({ image: DEMO_IMAGE }, { wait: true });
    const stopped = await other.stop();
    expect(stopped.state).toBe('stopped');
    for (const attempt of [
      () => other.exec(['true']),
      () => other.execStream(['true']).next(),
      () => other.writeFile('/tmp/x', 'x'),
    ]) {
      const error = await attempt().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SandboxdError);
      expect(error).toMatchObject({ status: 409, code: 'SANDBOX_NOT_RUNNING' });
    }
    await expect(other.waitUntil('running', { intervalMs: 50 })).rejects.toMatchObject({
      code: 'UNEXPECTED_STATE',
    });
    await other.restart();
    await other.waitUntil('running');
    await other.delete({ force: true });
    expect((await other.refresh()).state).toBe('deleted');
  });
});
