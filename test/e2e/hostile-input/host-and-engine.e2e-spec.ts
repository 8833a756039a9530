import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawnSync } from 'node:child_process';
import {
  mkdirSync,
  readFileSync,
  realpathSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { Backend, TestApp, createTestApp, eventually } from '../../support/app';
import { DEMO_IMAGE, ensureDemoImage, testDocker } from '../../support/docker';
import { createRunning } from '../../support/sandboxes';

/** A "registry" on 127.0.0.1 that answers every request with a secret body (a reflector bait). */
async function listen(handler: (req: IncomingMessage, res: any) => void): Promise<Server> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
const portOf = (server: Server): number => (server.address() as AddressInfo).port;

interface MountinfoLine {
  target: string;
  options: string[];
}

function mountinfoLines(mountinfo: string): MountinfoLine[] {
  return mountinfo
    .split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => fields.length > 5)
    .map((fields) => ({ target: fields[4], options: fields[5].split(',') }));
}

/** The options of the (topmost) mount at `target` in a /proc/<pid>/mountinfo text. */
function mountOptions(mountinfo: string, target: string): string[] | null {
  const at = mountinfoLines(mountinfo).filter((line) => line.target === target);
  return at.length > 0 ? at[at.length - 1].options : null;
}

/** The mount a path is reached through: the longest target containing it, the last among equals. */
function holdingMount(mountinfo: string, path: string): MountinfoLine | null {
  let best: MountinfoLine | null = null;
  for (const line of mountinfoLines(mountinfo)) {
    const holds = path === line.target || path.startsWith(`${line.target}/`);
    if (holds && (best === null || line.target.length >= best.target.length)) best = line;
  }
  return best;
}

describe.each<Backend>(['postgres+redis', 'embedded'])('host and engine (%s)', (backend) => {
  const secret = `TOP-SECRET-${Math.random().toString(36).slice(2)}`;
  let t: TestApp;
  let http: ReturnType<typeof request>;
  let reflector: Server;
  let reflectorHits = 0;
  let hanging: Server;
  const hangingRequests: IncomingMessage[] = [];

  beforeAll(async () => {
    await ensureDemoImage();
    // dockerd quotes a manifest answer it cannot parse in its error ("error parsing HTTP 404
    // response body: …: \"<body>\""), which is how the body used to reach failureReason.
    reflector = await listen((req, res) => {
      reflectorHits += 1;
      res.writeHead(req.url === '/v2/' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(`not json ${secret}`);
    });
    hanging = await listen((req) => {
      hangingRequests.push(req);
    });
    t = await createTestApp(backend, {
      REGISTRY_ALLOWLIST: `127.0.0.1:${portOf(reflector)},127.0.0.1:${portOf(hanging)}`,
      ALLOWED_RUNTIMES: 'runc,sandboxd-no-such-runtime',
      ORPHAN_GRACE_SECONDS: '0',
    });
    http = request(t.app.getHttpServer());
  });

  afterAll(async () => {
    await t?.close();
    for (const req of hangingRequests) req.socket.destroy();
    await new Promise((resolve) => reflector?.close(resolve));
    await new Promise((resolve) => hanging?.close(resolve));
  });

  it('mounts the log dir nosuid,nodev,noexec, inside the sandbox and on the host', async () => {
    const sandbox = await createRunning(http);
    const exec = await http
      .post(`/v1/sandboxes/${sandbox.id}/exec`)
      .send({ command: ['cat', '/proc/self/mountinfo'] })
      .expect(200);
    const inside = mountOptions(exec.body.stdout, t.config.logDir.mountPath);
    expect(inside).toEqual(expect.arrayContaining(['nosuid', 'nodev', 'noexec']));

    // On the host the log dir is reached through LOG_ROOT, one mount of its own with the flags
    // (no mount per sandbox, so none to undo on delete).
    const logRoot = realpathSync(t.config.logDir.root);
    const hostDir = join(logRoot, sandbox.id);
    const onHost = holdingMount(readFileSync('/proc/self/mountinfo', 'utf8'), hostDir);
    expect(onHost).toEqual({
      target: logRoot,
      options: expect.arrayContaining(['nosuid', 'nodev', 'noexec']),
    });
    // A setuid copy of a binary planted by the sandbox cannot be run, by it or from the host.
    const planted = await http
      .post(`/v1/sandboxes/${sandbox.id}/exec`)
      .send({
        command: `cp /bin/busybox ${t.config.logDir.mountPath}/bb && chmod 4755 ${t.config.logDir.mountPath}/bb && ${t.config.logDir.mountPath}/bb true`,
      })
      .expect(200);
    expect(planted.body.exitCode).toBe(126);
    expect(statSync(join(hostDir, 'bb')).mode & 0o4000).toBe(0o4000);
    expect(spawnSync(join(hostDir, 'bb'), ['true']).error).toMatchObject({ code: 'EACCES' });
    expect(statSync(t.config.logDir.root).mode & 0o777).toBe(0o700);

    await http.delete(`/v1/sandboxes/${sandbox.id}?force=true`).expect(204);
    const after = mountinfoLines(readFileSync('/proc/self/mountinfo', 'utf8'));
    expect(after.filter((line) => line.target.startsWith(`${logRoot}/`))).toEqual([]);
    expect(mountOptions(readFileSync('/proc/self/mountinfo', 'utf8'), logRoot)).toEqual(
      expect.arrayContaining(['nosuid', 'nodev', 'noexec']),
    );
    expect(() => statSync(hostDir)).toThrow();
  });

  it.each([
    ['a literal loopback registry', (port: number) => `127.0.0.1:${port + 1}/probe:1`],
    ['a name resolving to loopback', (port: number) => `localhost:${port}/probe:1`],
    ['link-local metadata', () => '169.254.169.254/latest:1'],
    ['a private address', () => '10.0.0.1:5000/probe:1'],
  ])('refuses %s with 403 before Docker is asked', async (_what, image) => {
    const before = reflectorHits;
    const res = await http
      .post('/v1/sandboxes?wait=true')
      .send({ image: image(portOf(reflector)) })
      .expect(403);
    expect(res.body.code).toBe('REGISTRY_NOT_ALLOWED');
    expect(reflectorHits).toBe(before);
  });

  it('never reflects what an allowed registry answered', async () => {
    const res = await http
      .post('/v1/sandboxes?wait=true')
      .send({ image: `127.0.0.1:${portOf(reflector)}/probe:1` })
      .expect(200);
    expect(res.body.state).toBe('stopped');
    expect(reflectorHits).toBeGreaterThan(0);
    expect(res.body.failureReason).toMatch(/could not be pulled/);
    expect(JSON.stringify(res.body)).not.toContain(secret);
    const view = await http.get(`/v1/sandboxes/${res.body.id}`).expect(200);
    expect(JSON.stringify(view.body)).not.toContain(secret);
    await http.delete(`/v1/sandboxes/${res.body.id}`).expect(204);
  });

  it("keeps a failing command's output (and so its env) out of the view", async () => {
    const res = await http
      .post('/v1/sandboxes?wait=true')
      .send({
        image: DEMO_IMAGE,
        env: { API_TOKEN: secret },
        command: ['sh', '-c', 'echo token=$API_TOKEN; exit 3'],
      })
      .expect(200);
    expect(res.body.state).toBe('stopped');
    expect(res.body.failureReason).toMatch(/code 3/);
    expect(JSON.stringify(res.body)).not.toContain(secret);

    // The restart says the true reason: the create failed, nobody removed anything.
    const restart = await http.post(`/v1/sandboxes/${res.body.id}/restart`);
    expect(restart.status).toBe(409);
    expect(restart.body.message).toMatch(/create failed/);
    expect(restart.body.message).not.toMatch(/removed outside sandboxd/);
    expect(JSON.stringify(restart.body)).not.toContain(secret);

    const metrics = await http.get('/metrics').expect(200);
    expect(metrics.text).toMatch(
      /sandboxd_operations_total\{operation="create",outcome="CONTAINER_FAILED"\} [1-9]/,
    );
    await http.delete(`/v1/sandboxes/${res.body.id}`).expect(204);
  });

  it('reports readiness degraded while the engine fails every start, and ready again after', async () => {
    expect((await http.get('/health')).status).toBe(200);
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const res = await http
        .post('/v1/sandboxes?wait=true')
        .send({ image: DEMO_IMAGE, runtime: 'sandboxd-no-such-runtime' })
        .expect(200);
      expect(res.body.state).toBe('stopped');
      ids.push(res.body.id);
    }
    const degraded = await http.get('/health');
    expect(degraded.status).toBe(503);
    expect(degraded.body.status).toBe('degraded');
    expect(degraded.body.checks.containerStarts.ok).toBe(false);
    expect(degraded.body.checks.docker.ok).toBe(true);

    const good = await createRunning(http);
    expect((await http.get('/health')).status).toBe(200);
    for (const id of [...ids, good.id]) {
      await http.delete(`/v1/sandboxes/${id}?force=true`).expect(204);
    }
  });

  it('cancels the image pull when a starting sandbox is deleted', async () => {
    const created = await http
      .post('/v1/sandboxes')
      .send({ image: `127.0.0.1:${portOf(hanging)}/slow:1` })
      .expect(202);
    // dockerd is now waiting on the registry that never answers.
    await eventually(() => Promise.resolve(hangingRequests.length > 0 ? true : undefined));
    const pulling = hangingRequests[hangingRequests.length - 1];
    await http.delete(`/v1/sandboxes/${created.body.id}?force=true`).expect(204);
    // Answered while dockerd is still stuck on the registry: the delete did not wait for the
    // pull to end on its own (dockerd gives up on such a registry only after its own deadline).
    expect(pulling.socket.destroyed).toBe(false);
    const view = await http.get(`/v1/sandboxes/${created.body.id}`).expect(200);
    expect(view.body.state).toBe('deleted');
  });

  it("removes an orphan container's log dir with it, never following a link inside", async () => {
    // Any sandbox of this instance makes the instance "known" to the reconciler.
    const known = await createRunning(http);
    const orphanId = `orphan${Date.now()}`;
    const logDir = join(t.config.logDir.root, orphanId);
    const outside = join(t.config.logDir.root, '..', `outside-${orphanId}`);
    writeFileSync(outside, 'precious');
    mkdirSync(logDir, { recursive: true });
    symlinkSync(outside, join(logDir, 'link'));
    const orphan = await testDocker().createContainer({
      name: `sandboxd-${orphanId}`,
      Image: DEMO_IMAGE,
      Entrypoint: ['sleep', 'infinity'],
      Labels: {
        'io.sandboxd.managed': 'true',
        'io.sandboxd.instance': t.config.docker.instanceId,
        'io.sandboxd.sandbox-id': orphanId,
      },
    });
    const pass = await http.post('/v1/admin/reconcile').expect(200);
    expect(JSON.stringify(pass.body)).toContain(orphan.id);
    await expect(orphan.inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect(() => statSync(logDir)).toThrow();
    expect(readFileSync(outside, 'utf8')).toBe('precious');
    await http.delete(`/v1/sandboxes/${known.id}?force=true`).expect(204);
  });
});
