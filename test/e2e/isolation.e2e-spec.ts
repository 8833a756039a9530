import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import request from 'supertest';
import { SANDBOX_CAPABILITIES } from '@app/deployment';
import { TestApp, createTestApp } from '../support/app';
import { effectiveCapabilities } from '../support/capabilities';
import { DEMO_IMAGE, TEST_SANDBOX_NETWORK, ensureDemoImage, testDocker } from '../support/docker';
import { createRunning } from '../support/sandboxes';

/** The fields of a sandbox view (JSON answer) this suite reads. */
interface SandboxView {
  id: string;
  state: string;
  network: string;
  containerId: string;
  ports: Record<string, number>;
  host: string;
  fromPool: boolean;
}

interface ExecAnswer {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Small limits, so the suite's dozen sandboxes stay within the host's admission on a small
 * machine (the default is one CPU each).
 */
const SMALL = { cpus: 0.1, memory: '64m' };

/** A TCP connection attempt from inside a sandbox: busybox nc with a 3 s connect timeout. */
const TRY_CONNECT = (address: string, port: number) => `nc -w 3 ${address} ${port} </dev/null`;

/** B's listener: greets every connection, one after the other, for as long as B runs. */
const LISTENER = 'while true; do echo hello-from-b | nc -l -p 8080; done';

/**
 * Isolation between sandboxes, for real on the host's engine: sandboxes on sandboxd's network
 * cannot open a TCP connection to one another, while the outside-facing path (a listener of the
 * host on the network's gateway) and published ports work; a `none` sandbox has only lo; the
 * reduced capability set is what a process inside sees.
 */
describe('isolation between sandboxes (real Docker, embedded default)', () => {
  let t: TestApp;
  let http: ReturnType<typeof request>;
  let gateway = '';
  let hostListener: Server;
  let hostPort = 0;
  const docker = testDocker();

  const exec = async (id: string, command: string): Promise<ExecAnswer> => {
    const res = await http
      .post(`/v1/sandboxes/${id}/exec`)
      .send({ command, timeoutSeconds: 20 })
      .expect(200);
    return res.body as ExecAnswer;
  };

  /** The sandbox's address on sandboxd's network, as the engine reports it. */
  const addressOf = async (sandbox: SandboxView): Promise<string> => {
    const inspected = await docker.getContainer(sandbox.containerId).inspect();
    const address = inspected.NetworkSettings.Networks[TEST_SANDBOX_NETWORK]?.IPAddress;
    if (!address) throw new Error(`sandbox ${sandbox.id} has no address on the sandbox network`);
    return address;
  };

  beforeAll(async () => {
    await ensureDemoImage();
    t = await createTestApp('embedded', { STOP_TIMEOUT_SECONDS: '1' });
    http = request(t.app.getHttpServer());
    // The network is made by the first create; the host's listener then binds its gateway.
    await createRunning(http, SMALL);
    const network = await docker.getNetwork(TEST_SANDBOX_NETWORK).inspect();
    gateway = (network as { IPAM: { Config: { Gateway: string }[] } }).IPAM.Config[0].Gateway;
    hostListener = createServer((socket) => socket.end('hello-from-host\n'));
    await new Promise<void>((resolve) => hostListener.listen(0, gateway, resolve));
    hostPort = (hostListener.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => hostListener?.close(resolve));
    await t?.close();
  });

  it('keeps sandbox A from opening a TCP connection to sandbox B, while A reaches the host and B its own listener', async () => {
    const b = (await createRunning(http, {
      ...SMALL,
      command: ['sh', '-c', LISTENER],
    })) as SandboxView;
    const a = (await createRunning(http, SMALL)) as SandboxView;
    expect([a.network, b.network]).toEqual(['bridge', 'bridge']);
    const bAddress = await addressOf(b);

    // The listener is up (B reaches itself on its own address), so a refusal below is the network.
    const self = await exec(b.id, TRY_CONNECT(bAddress, 8080));
    expect(self).toMatchObject({ exitCode: 0, stdout: 'hello-from-b\n' });

    const fromA = await exec(a.id, TRY_CONNECT(bAddress, 8080));
    expect(fromA.exitCode).not.toBe(0);
    expect(fromA.stdout).toBe('');
    expect(fromA.stderr).toMatch(/timed out|can't connect/);

    // The same command from A to the host's listener on the gateway: the way out is open.
    const out = await exec(a.id, TRY_CONNECT(gateway, hostPort));
    expect(out).toMatchObject({ exitCode: 0, stdout: 'hello-from-host\n' });
  });

  it('keeps published ports working on the sandbox network', async () => {
    const b = (await createRunning(http, {
      ...SMALL,
      command: ['sh', '-c', LISTENER],
      ports: [8080],
    })) as SandboxView;
    expect(b.ports['8080']).toEqual(expect.any(Number));
    const greeting = await new Promise<string>((resolve, reject) => {
      let text = '';
      const socket = connect(b.ports['8080'], b.host);
      socket.setTimeout(10_000, () => socket.destroy(new Error('no answer in 10 s')));
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(greeting).toBe('hello-from-b\n');

    // Published on PORT_BIND_ADDRESS (127.0.0.1), so not through the gateway from another sandbox.
    const a = (await createRunning(http, SMALL)) as SandboxView;
    const viaHost = await exec(a.id, TRY_CONNECT(gateway, b.ports['8080']));
    expect(viaHost.exitCode).not.toBe(0);
    expect(viaHost.stdout).toBe('');
  });

  it('gives a none sandbox only lo, and no way out', async () => {
    const none = (await createRunning(http, { ...SMALL, network: 'none' })) as SandboxView;
    expect(none.network).toBe('none');
    expect((await http.get(`/v1/sandboxes/${none.id}`).expect(200)).body.network).toBe('none');
    const interfaces = await exec(none.id, 'ls /sys/class/net');
    expect(interfaces.stdout.split(/\s+/).filter(Boolean)).toEqual(['lo']);
    const out = await exec(none.id, TRY_CONNECT(gateway, hostPort));
    expect(out.exitCode).not.toBe(0);

    // Still none after a restart.
    await http.post(`/v1/sandboxes/${none.id}/stop`).expect(200);
    await http.post(`/v1/sandboxes/${none.id}/restart?wait=true`).expect(200);
    expect((await exec(none.id, 'ls /sys/class/net')).stdout.trim()).toBe('lo');
  });

  it('refuses ports on a none sandbox and an unknown network, naming the field, before any container', async () => {
    const before = await docker.listContainers({ all: true });
    const ports = await http
      .post('/v1/sandboxes')
      .send({ image: DEMO_IMAGE, network: 'none', ports: [8080] })
      .expect(400);
    expect(ports.body).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: { fields: { ports: ['cannot be published by a sandbox with network "none"'] } },
    });
    for (const network of ['host', 'container:abc', 'BRIDGE', 7]) {
      const bad = await http.post('/v1/sandboxes').send({ image: DEMO_IMAGE, network }).expect(400);
      expect(bad.body).toMatchObject({
        code: 'VALIDATION_FAILED',
        details: { fields: { network: ['network must be one of: bridge, none'] } },
      });
    }
    expect((await docker.listContainers({ all: true })).length).toBe(before.length);
  });

  it("moves a sandbox whose container is still on Docker's default bridge onto the sandbox network at restart", async () => {
    const b = (await createRunning(http, {
      ...SMALL,
      command: ['sh', '-c', LISTENER],
    })) as SandboxView;
    const bAddress = await addressOf(b);
    const old = (await createRunning(http, SMALL)) as SandboxView;
    await http.post(`/v1/sandboxes/${old.id}/stop`).expect(200);
    // As a release before sandbox networks left it: on the default bridge only.
    await docker.getNetwork(TEST_SANDBOX_NETWORK).disconnect({ Container: old.containerId });
    await docker.getNetwork('bridge').connect({ Container: old.containerId });

    await http.post(`/v1/sandboxes/${old.id}/restart?wait=true`).expect(200);
    const inspected = await docker.getContainer(old.containerId).inspect();
    expect(Object.keys(inspected.NetworkSettings.Networks)).toEqual([TEST_SANDBOX_NETWORK]);
    const fromOld = await exec(old.id, TRY_CONNECT(bAddress, 8080));
    expect(fromOld.exitCode).not.toBe(0);
    expect(await exec(old.id, TRY_CONNECT(gateway, hostPort))).toMatchObject({ exitCode: 0 });
  });

  it('shows the reduced capability set from inside a sandbox', async () => {
    const sandbox = (await createRunning(http, SMALL)) as SandboxView;
    const status = await exec(sandbox.id, 'cat /proc/self/status');
    const effective = effectiveCapabilities(status.stdout);
    console.log(`CapEff inside a sandbox: ${effective.join(', ')}`);
    expect([...effective].sort()).toEqual([...SANDBOX_CAPABILITIES].sort());
    for (const dropped of [
      'NET_RAW',
      'MKNOD',
      'SYS_CHROOT',
      'SETFCAP',
      'AUDIT_WRITE',
      'SYS_ADMIN',
    ]) {
      expect(effective).not.toContain(dropped);
    }
    // The dropped ones are refused for real, as root: no device node, no chroot.
    const mknod = await exec(sandbox.id, 'busybox mknod /tmp/null c 1 3');
    expect(mknod).toMatchObject({ exitCode: 1, stderr: expect.stringMatching(/not permitted/) });
    const chroot = await exec(
      sandbox.id,
      'mkdir -p /tmp/r/bin && cp /bin/busybox /tmp/r/bin/ && busybox chroot /tmp/r /bin/busybox true',
    );
    expect(chroot).toMatchObject({ stderr: expect.stringMatching(/not permitted/) });
    expect(chroot.exitCode).not.toBe(0);
  });

  it('gives back what SANDBOX_CAP_ADD names, and takes a warm-pool member only for a matching network', async () => {
    const other = await createTestApp('embedded', {
      SANDBOX_CAP_ADD: 'NET_RAW,sys_chroot',
      WARM_POOL: `${DEMO_IMAGE}:1`,
    });
    try {
      const otherHttp = request(other.app.getHttpServer());
      await waitForPool(otherHttp);
      const pooled = (await createRunning(otherHttp)) as SandboxView;
      expect(pooled).toMatchObject({ fromPool: true, network: 'bridge' });
      const status = await otherHttp
        .post(`/v1/sandboxes/${pooled.id}/exec`)
        .send({ command: 'cat /proc/self/status' })
        .expect(200);
      const effective = effectiveCapabilities((status.body as ExecAnswer).stdout);
      expect([...effective].sort()).toEqual(
        [...SANDBOX_CAPABILITIES, 'NET_RAW', 'SYS_CHROOT'].sort(),
      );

      await waitForPool(otherHttp);
      const none = (await createRunning(otherHttp, { ...SMALL, network: 'none' })) as SandboxView;
      expect(none).toMatchObject({ fromPool: false, network: 'none' });
      const inspected = await docker.getContainer(none.containerId).inspect();
      expect(inspected.HostConfig.NetworkMode).toBe('none');
    } finally {
      await other.close();
    }
  });
});

/** Until every warm pool of the app has its members ready. */
async function waitForPool(http: ReturnType<typeof request>): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const health = await http.get('/health');
    const pools = (health.body as { warmPool?: { size: number; idle: number }[] }).warmPool ?? [];
    if (pools.length > 0 && pools.every((pool) => pool.idle >= pool.size)) return;
    if (Date.now() > deadline) throw new Error(`warm pool not ready: ${JSON.stringify(pools)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
