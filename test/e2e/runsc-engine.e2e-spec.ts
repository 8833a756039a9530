import { ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { SANDBOX_CAPABILITIES } from '@app/deployment';
import { TestApp, createTestApp, eventually } from '../support/app';
import { effectiveCapabilities } from '../support/capabilities';
import { ensureDemoImage, TEST_SANDBOX_NETWORK } from '../support/docker';
import { SecondEngine, secondEngineUnavailableReason } from '../support/second-engine';

const run = promisify(execFile);

/**
 * How runsc is registered here, as the README recommends: the ptrace platform (no KVM needed),
 * the network of the container's own namespace (`host` to runsc: Docker's veth on sandboxd's
 * bridge; gVisor's own network stack cannot start on recent kernels with Debian's runsc), and
 * file access `shared`, so files the files API writes from the host are seen inside at once.
 * `runsc-nonet` is the registration known to start anywhere: `--network=none`.
 */
const RUNSC_ARGS = ['--platform=ptrace', '--network=host', '--file-access=shared'];
const RUNSC_NONET_ARGS = ['--platform=ptrace', '--network=none'];

function runscPath(): string | null {
  const found = spawnSync('sh', ['-c', 'command -v runsc'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : null;
}

const RUNSC = runscPath();
const unavailable =
  RUNSC === null
    ? "no runsc binary (Debian's runsc package; scripts/lib/setup.sh installs it)"
    : secondEngineUnavailableReason();
if (unavailable !== null) console.warn(`SKIPPING the runsc e2e suite: ${unavailable}`);
const describeRunsc = unavailable === null ? describe : describe.skip;

interface SandboxView {
  id: string;
  state: string;
  runtime: string;
  network: string;
  containerId: string;
  ports: Record<string, number>;
  failureReason: string | null;
}

interface ExecAnswer {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

const LISTENER = 'while true; do echo hello-from-b | nc -l -p 8080; done';
const TRY_CONNECT = (address: string, port: number) => `nc -w 3 ${address} ${port} </dev/null`;

/**
 * gVisor's runsc as an allowed runtime, for real, on a second Docker engine that the suite starts
 * in its own network namespace (SecondEngine) with runsc registered: what a runsc sandbox
 * supports (the network, published ports, capabilities, exec with its timeout, the files API,
 * stop and restart) and what it refuses with a coded error.
 */
describeRunsc('gVisor (runsc) sandboxes on a second Docker engine', () => {
  const base = mkdtempSync(join(tmpdir(), 'sandboxd-runsc-engine-'));
  const engine = new SecondEngine({
    base,
    networking: 'bridge',
    daemonConfig: {
      runtimes: {
        runsc: { path: RUNSC, runtimeArgs: RUNSC_ARGS },
        'runsc-nonet': { path: RUNSC, runtimeArgs: RUNSC_NONET_ARGS },
      },
    },
  });
  let started = false;
  let t: TestApp | undefined;
  let http: ReturnType<typeof request>;
  let gateway = '';
  let listener: ChildProcess | undefined;
  const LISTENER_PORT = 39_999;

  const create = async (body: Record<string, unknown>): Promise<SandboxView> => {
    const res = await http
      .post('/v1/sandboxes?wait=true')
      .send({ image: 'sandboxd/demo:latest', runtime: 'runsc', ...body })
      .expect(200);
    const view = res.body as SandboxView;
    if (view.state !== 'running') throw new Error(`not running: ${view.failureReason}`);
    return view;
  };

  const exec = async (id: string, body: Record<string, unknown>): Promise<ExecAnswer> => {
    const res = await http
      .post(`/v1/sandboxes/${id}/exec`)
      .send({ timeoutSeconds: 30, ...body })
      .expect(200);
    return res.body as ExecAnswer;
  };
  const sh = (id: string, command: string) => exec(id, { command });

  const readFile = async (id: string, path: string): Promise<string> => {
    const res = await http
      .get(`/v1/sandboxes/${id}/files?path=${encodeURIComponent(path)}`)
      .buffer(true)
      .parse((raw, done) => {
        const chunks: Buffer[] = [];
        raw.on('data', (chunk: Buffer) => chunks.push(chunk));
        raw.on('end', () => done(null, Buffer.concat(chunks)));
      })
      .expect(200);
    return (res.body as Buffer).toString();
  };

  /** A command run on the engine's side of the network (its namespace), as the host would. */
  const inEngineNetns = (argv: string[]) =>
    run('nsenter', [`--net=${engine.netns}`, ...argv], { timeout: 20_000 });

  beforeAll(async () => {
    await ensureDemoImage();
    await engine.start();
    started = true;
    console.log(`second engine on ${engine.socketPath} with runsc ${RUNSC_ARGS.join(' ')}`);
    t = await createTestApp('embedded', {
      DOCKER_SOCKET_PATH: engine.socketPath,
      ALLOWED_RUNTIMES: 'runc,runsc,runsc-nonet',
      PORT_RANGE: '47000-47099',
      STOP_TIMEOUT_SECONDS: '1',
      // A dozen sandboxes of one CPU each, on a machine of two.
      OVERCOMMIT_CPU: '20',
    });
    http = request(t.app.getHttpServer());
  }, 240_000);

  afterAll(async () => {
    const problems: string[] = [];
    listener?.kill('SIGKILL');
    try {
      await t?.close();
    } catch (error) {
      problems.push(`closing the app: ${String(error)}`);
    }
    if (started) problems.push(...(await engine.stop()));
    const left = SecondEngine.mountsUnder(base);
    if (left.length > 0) problems.push(`mounts left behind: ${left.join(', ')}`);
    else rmSync(base, { recursive: true, force: true });
    if (problems.length > 0) throw new Error(problems.join('\n'));
  }, 120_000);

  it('runs a runsc sandbox under gVisor, reporting its runtime, with the reduced capability set', async () => {
    const sandbox = await create({});
    expect(sandbox).toMatchObject({ runtime: 'runsc', network: 'bridge' });
    expect((await http.get(`/v1/sandboxes/${sandbox.id}`).expect(200)).body.runtime).toBe('runsc');
    const inspected = await engine.docker.getContainer(sandbox.containerId).inspect();
    expect(inspected.HostConfig.Runtime).toBe('runsc');
    // gVisor's own kernel answers, not the host's.
    const kernel = await sh(sandbox.id, 'uname -r; dmesg 2>/dev/null | head -1');
    console.log(`inside a runsc sandbox: ${kernel.stdout.trim().replace(/\n/g, ' / ')}`);
    expect(kernel.stdout.split('\n')[0]).not.toBe(
      spawnSync('uname', ['-r']).stdout.toString().trim(),
    );
    const status = await sh(sandbox.id, 'cat /proc/self/status');
    expect([...effectiveCapabilities(status.stdout)].sort()).toEqual(
      [...SANDBOX_CAPABILITIES].sort(),
    );
  });

  it('keeps runsc sandboxes from reaching each other, while the gateway and published ports work', async () => {
    const b = await create({ command: ['sh', '-c', LISTENER], ports: [8080] });
    const a = await create({});
    const network = await engine.docker.getNetwork(TEST_SANDBOX_NETWORK).inspect();
    gateway = (network as { IPAM: { Config: { Gateway: string }[] } }).IPAM.Config[0].Gateway;
    const inspected = await engine.docker.getContainer(b.containerId).inspect();
    const bAddress = inspected.NetworkSettings.Networks[TEST_SANDBOX_NETWORK].IPAddress;

    expect(await sh(b.id, TRY_CONNECT(bAddress, 8080))).toMatchObject({
      exitCode: 0,
      stdout: 'hello-from-b\n',
    });
    const fromA = await sh(a.id, TRY_CONNECT(bAddress, 8080));
    expect(fromA.exitCode).not.toBe(0);
    expect(fromA.stdout).toBe('');

    // A listener on the engine's host side, bound to the network's gateway.
    listener = spawn(
      'nsenter',
      [
        `--net=${engine.netns}`,
        process.execPath,
        '-e',
        "require('net').createServer((s) => s.end('hello-from-host\\n')).listen(Number(process.argv[1]), process.argv[2], () => console.log('ready'))",
        String(LISTENER_PORT),
        gateway,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      listener?.stdout?.once('data', () => resolve());
      listener?.once('exit', (code) => reject(new Error(`listener exited with ${code}`)));
    });
    expect(await sh(a.id, TRY_CONNECT(gateway, LISTENER_PORT))).toMatchObject({
      exitCode: 0,
      stdout: 'hello-from-host\n',
    });

    // The published port, from the engine's host side.
    const published = await inEngineNetns([
      'busybox',
      'nc',
      '-w',
      '3',
      '127.0.0.1',
      String(b.ports['8080']),
    ]);
    expect(published.stdout).toBe('hello-from-b\n');
  });

  it('gives a runsc sandbox with network none only lo', async () => {
    const none = await create({ network: 'none' });
    expect(none.network).toBe('none');
    expect((await sh(none.id, 'ls /sys/class/net')).stdout.trim()).toBe('lo');
  });

  it('refuses bridge on a runtime registered with --network=none (422 NETWORK_UNSUPPORTED), and runs none on it', async () => {
    const refused = await http
      .post('/v1/sandboxes?wait=true')
      .send({ image: 'sandboxd/demo:latest', runtime: 'runsc-nonet' })
      .expect(422);
    expect(refused.body).toMatchObject({
      code: 'NETWORK_UNSUPPORTED',
      details: { runtime: 'runsc-nonet', network: 'bridge', runtimeArgs: RUNSC_NONET_ARGS },
    });
    const none = await create({ runtime: 'runsc-nonet', network: 'none' });
    expect(none).toMatchObject({ runtime: 'runsc-nonet', network: 'none' });
    expect((await sh(none.id, 'ls /sys/class/net')).stdout.trim()).toBe('lo');
  });

  it('runs execs: exit codes, stdin, another user, and a timeout that kills the whole tree', async () => {
    const sandbox = await create({});
    expect(
      await exec(sandbox.id, { command: ['sh', '-c', 'echo out; echo err >&2; exit 3'] }),
    ).toMatchObject({
      exitCode: 3,
      stdout: 'out\n',
      stderr: 'err\n',
    });
    expect(await exec(sandbox.id, { command: ['cat'], stdin: 'from stdin' })).toMatchObject({
      exitCode: 0,
      stdout: 'from stdin',
    });
    expect((await exec(sandbox.id, { command: ['id', '-u'], user: 'nobody' })).stdout.trim()).toBe(
      '65534',
    );

    const slow = await exec(sandbox.id, {
      command: 'sleep 301 & sleep 302; echo never',
      timeoutSeconds: 1,
    });
    expect(slow).toMatchObject({ timedOut: true });
    expect(slow.stdout).not.toContain('never');
    // gVisor runs the processes in its own kernel, where the host cannot see them: the tree is
    // killed from inside the sandbox instead.
    const left = await sh(sandbox.id, 'ps -o pid,args | grep -c "[s]leep 30[12]" || true');
    expect(left.stdout.trim()).toBe('0');
  });

  it('reads, writes, lists and deletes files, both ways, outside /tmp', async () => {
    const sandbox = await create({});
    await http
      .put(`/v1/sandboxes/${sandbox.id}/files?path=/root/a.txt`)
      .set('Content-Type', 'application/octet-stream')
      .send(Buffer.from('first\n'))
      .expect(200);
    expect((await sh(sandbox.id, 'cat /root/a.txt')).stdout).toBe('first\n');
    // Overwritten from the host while the sandbox has it cached: seen inside (file access shared).
    await http
      .put(`/v1/sandboxes/${sandbox.id}/files?path=/root/a.txt`)
      .set('Content-Type', 'application/octet-stream')
      .send(Buffer.from('second\n'))
      .expect(200);
    expect((await sh(sandbox.id, 'cat /root/a.txt')).stdout).toBe('second\n');

    await sh(sandbox.id, 'echo from-inside > /root/b.txt');
    expect(await readFile(sandbox.id, '/root/b.txt')).toBe('from-inside\n');
    const listing = await http.get(`/v1/sandboxes/${sandbox.id}/files?path=/root`).expect(200);
    expect(listing.body.entries.map((e: { name: string }) => e.name).sort()).toEqual([
      'a.txt',
      'b.txt',
    ]);
    await http.delete(`/v1/sandboxes/${sandbox.id}/files?path=/root/b.txt`).expect(204);
    expect((await sh(sandbox.id, 'test -e /root/b.txt')).exitCode).toBe(1);

    // gVisor gives an image whose /tmp is empty a /tmp of its own kernel's: a process's file
    // there never reaches the container's file system, so the files API cannot see it.
    await sh(sandbox.id, 'echo x > /tmp/inside.txt');
    const hidden = await http.get(`/v1/sandboxes/${sandbox.id}/files?path=/tmp/inside.txt`);
    expect(hidden.status).toBe(404);
    expect(hidden.body.code).toBe('FILE_NOT_FOUND');
  });

  it('applies the memory limit to the whole sandbox: its kernel shows it, and going past it ends the sandbox', async () => {
    const sandbox = await create({ memory: '128m' });
    expect((await sh(sandbox.id, 'head -1 /proc/meminfo')).stdout).toMatch(
      /^MemTotal:\s+131072 kB/,
    );
    // gVisor's /tmp is memory: filling it past the limit takes the sandbox's kernel down with it.
    const before = Date.now();
    const res = await http
      .post(`/v1/sandboxes/${sandbox.id}/exec`)
      .send({ command: 'dd if=/dev/zero of=/tmp/fill bs=1M count=300', timeoutSeconds: 10 });
    console.log(
      `exec past the memory limit, after ${Date.now() - before} ms: ${res.status} ${JSON.stringify(res.body)}`,
    );
    // Either runsc's exec ends with its own error (exit 128) or its stream outlives the sandbox's
    // kernel and the exec answers at its timeout, with a coded 4xx: never a 5xx.
    expect(res.status).toBeLessThan(500);
    if (res.status === 200) expect(res.body.exitCode).not.toBe(0);
    else expect(res.body.code).toEqual(expect.any(String));
    const stopped = await eventually(async () => {
      const view = (await http.get(`/v1/sandboxes/${sandbox.id}`).expect(200)).body as SandboxView;
      return view.state === 'stopped' ? view : undefined;
    }, 30_000);
    console.log(`failureReason after the OOM: ${stopped.failureReason}`);
    expect(stopped.failureReason).toMatch(/memory|OOM/i);
  });

  it('stops and restarts a runsc sandbox, keeping its files and its runtime', async () => {
    const sandbox = await create({});
    await sh(sandbox.id, 'echo kept > /root/kept.txt');
    await http.post(`/v1/sandboxes/${sandbox.id}/stop`).expect(200);
    const restarted = await http.post(`/v1/sandboxes/${sandbox.id}/restart?wait=true`).expect(200);
    expect(restarted.body).toMatchObject({ state: 'running', runtime: 'runsc', network: 'bridge' });
    expect((await sh(sandbox.id, 'cat /root/kept.txt')).stdout).toBe('kept\n');
    expect(await readFile(sandbox.id, '/root/kept.txt')).toBe('kept\n');
  });
});
