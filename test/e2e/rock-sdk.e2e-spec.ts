import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { Backend, TestApp, createTestApp, testEnv } from '../support/app';
import { DEMO_IMAGE, ensureDemoImage } from '../support/docker';
import { BadRequestRockError, CODES, RockSandbox, parseStatus } from '../support/rock-client';
import { ServerProcess } from '../support/server-process';

/**
 * ROCK's SDK against sandboxd, with a client written from the SDK's wire contract
 * (test/support/rock-client.ts): lifecycle, bash sessions, arun in both modes, files, and the
 * answers to bad input, through the real AppModule and Docker, on both backends.
 */

const UPLOAD_LIMIT = 256 * 1024;
const ROCK = '/apis/envs/sandbox/v1';

describe.each<Backend>(['postgres+redis', 'embedded'])('ROCK SDK contract (%s)', (backend) => {
  let t: TestApp;
  let baseUrl: string;
  let sb: RockSandbox;
  let scratch: string;

  beforeAll(async () => {
    await ensureDemoImage();
    t = await createTestApp(backend, { FILE_SIZE_LIMIT: String(UPLOAD_LIMIT) });
    await t.app.listen(0, '127.0.0.1');
    baseUrl = (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
    scratch = mkdtempSync(join(tmpdir(), 'rock-e2e-'));
    sb = new RockSandbox({
      baseUrl,
      image: DEMO_IMAGE,
      memory: '256m',
      cpus: 0.5,
      autoDeleteSeconds: 300,
      startupTimeout: 60,
      userId: 'u1',
      experimentId: 'exp-7',
      namespace: 'ns-a',
      extraHeaders: { 'X-Key': 'k123' },
    });
  });

  afterAll(async () => {
    rmSync(scratch, { recursive: true, force: true });
    await t?.close();
  });

  const post = (route: string, body: object | string) =>
    request(t.app.getHttpServer())
      .post(`${ROCK}/${route}`)
      .set('Content-Type', 'application/json')
      .send(typeof body === 'string' ? body : JSON.stringify(body));

  it('should start, poll until alive and report a strict status', async () => {
    await sb.start();
    expect(sb.sandboxId).toMatch(/^[0-9a-z]{25}$/);
    expect(typeof sb.hostName).toBe('string');
    const alive = await sb.isAlive();
    expect(alive.is_alive).toBe(true);
    const status = await sb.getStatus();
    expect(status).toMatchObject({
      sandbox_id: sb.sandboxId,
      state: 'running',
      is_alive: true,
      image: DEMO_IMAGE,
      user_id: 'u1',
      experiment_id: 'exp-7',
      namespace: 'ns-a',
      cpus: 0.5,
      memory: '256m',
      status: { image_pull: { status: 'success' }, docker_run: { status: 'success' } },
    });
    expect(typeof status.create_time).toBe('string');
    expect(typeof status.start_time).toBe('string');
    // The same record through /v1: ROCK is a translation, not a second lifecycle.
    const native = await request(t.app.getHttpServer())
      .get(`/v1/sandboxes/${sb.sandboxId}`)
      .expect(200);
    expect(native.body).toMatchObject({
      state: 'running',
      idleTimeoutSeconds: 300,
      autoDeleteSeconds: 300,
      labels: { 'rock/user-id': 'u1', 'rock/experiment-id': 'exp-7', 'rock/namespace': 'ns-a' },
    });
  });

  it('should execute argv and shell strings with their exit codes', async () => {
    expect(await sb.execute(['echo', 'hello'])).toEqual({
      stdout: 'hello\n',
      stderr: '',
      exit_code: 0,
    });
    const shell = await sb.execute('echo out; echo err >&2; exit 3');
    expect(shell).toEqual({ stdout: 'out\n', stderr: 'err\n', exit_code: 3 });
    const env = await sb.execute(['sh', '-c', 'echo $GREETING from $(pwd)'], {
      cwd: '/tmp',
      env: { GREETING: 'hi' },
    });
    expect(env.stdout).toBe('hi from /tmp\n');
    // Bytes that are not UTF-8 come back as U+FFFD: the answer stays valid JSON with strings.
    const binary = await sb.execute(['printf', '\\377\\376ok']);
    expect(binary).toEqual({ stdout: '\uFFFD\uFFFDok', stderr: '', exit_code: 0 });
    const missing = await sb.execute(['no-such-program']);
    expect(missing.exit_code).not.toBe(0);
  });

  it('should keep cwd and exported variables in a session, with pty-style output', async () => {
    await sb.createSession({ session: 's1' });
    await sb.arun('cd /tmp && export FOO=bar && X=local', { session: 's1' });
    const state = await sb.arun('pwd; echo $FOO $X', { session: 's1' });
    expect(state).toMatchObject({
      output: '/tmp\r\nbar local',
      exit_code: 0,
      failure_reason: '',
      expect_string: '',
    });
    const lines = await sb.arun("printf 'a\\nb\\n'; echo err >&2", { session: 's1' });
    expect(lines.output).toBe('a\r\nb\r\nerr');
    expect((await sb.arun('echo hello', { session: 's1' })).output).toBe('hello');
    expect((await sb.arun("printf '\\377x\\n'", { session: 's1' })).output).toBe('\uFFFDx');
    // The initial environment is (almost) empty, as on ROCK unless env_enable.
    const env = (await sb.arun('env', { session: 's1' })).output.split('\r\n');
    const names = env.map((line) => line.split('=')[0]);
    expect(names).toEqual(expect.arrayContaining(['HOME', 'PATH', 'FOO']));
    expect(names).not.toContain('HOSTNAME');
    expect(names).not.toContain('SANDBOXD_EXEC_ID');
  });

  it('should answer Failed for a non-zero exit under check=raise, and the code otherwise', async () => {
    await expect(sb.arun('false', { session: 's1' })).rejects.toThrow(/Failed to execute command/);
    const silent = await sb.runInSession({
      command: 'sh -c "exit 7"',
      session: 's1',
      check: 'silent',
    });
    expect(silent.exit_code).toBe(7);
    const ignored = await sb.runInSession({ command: 'false', session: 's1', check: 'ignore' });
    expect(ignored.exit_code).toBeNull();
    await expect(sb.arun('if then', { session: 's1' })).rejects.toThrow(/syntax error/);
    expect((await sb.arun('pwd', { session: 's1' })).output).toBe('/tmp');
  });

  it('should stop a timed-out command and keep the session and its state', async () => {
    const started = Date.now();
    await expect(
      sb.runInSession({ command: 'sleep 30; echo never', session: 's1', timeout: 2 }),
    ).rejects.toThrow(/timed out after 2 s/);
    expect(Date.now() - started).toBeLessThan(15_000);
    await expect(
      sb.runInSession({ command: 'while :; do :; done', session: 's1', timeout: 1 }),
    ).rejects.toThrow(/timed out/);
    expect((await sb.arun('pwd; echo $FOO', { session: 's1' })).output).toBe('/tmp\r\nbar');
  });

  it('should treat a duplicate create and an unknown close as ROCK does, and refuse unknown sessions', async () => {
    await sb.createSession({ session: 's1' });
    expect((await sb.arun('echo $FOO', { session: 's1' })).output).toBe('bar');
    await expect(sb.arun('echo x', { session: 'nope' })).rejects.toThrow(
      /session nope does not exist/,
    );
    expect(await sb.closeSession('nope')).toEqual({ session_type: 'bash' });
    await sb.createSession({ session: 'withenv', env: { ALPHA: 'one two' } });
    expect((await sb.arun('echo "$ALPHA"', { session: 'withenv' })).output).toBe('one two');
    await sb.closeSession('withenv');
    await expect(sb.arun('echo x', { session: 'withenv' })).rejects.toThrow(/does not exist/);
    // startup_source files are sourced, env_enable keeps the container's environment, and
    // remote_user runs the shell as that user.
    await sb.writeFile('/tmp/rock-rc', 'export FROM_RC=sourced\n');
    await sb.createSession({ session: 'full', startupSource: ['/tmp/rock-rc'], envEnable: true });
    const full = await sb.arun('echo $FROM_RC; echo ${HOSTNAME:+has-hostname}', {
      session: 'full',
    });
    expect(full.output).toBe('sourced\r\nhas-hostname');
    await sb.createSession({ session: 'as-nobody', remoteUser: 'nobody' });
    expect((await sb.arun('id -u', { session: 'as-nobody' })).output).toBe('65534');
  });

  it('should run arun without a session and in nohup mode with kill -0 polling', async () => {
    expect((await sb.arun('echo normal')).output).toBe('normal');
    await expect(sb.arun('exit 3')).rejects.toThrow(/Failed to execute command/);
    const started = Date.now();
    const nohup = await sb.arun('sh -c "sleep 1; echo done-nohup"', {
      mode: 'nohup',
      waitInterval: 5,
      waitTimeout: 60,
    });
    expect(nohup).toMatchObject({ exit_code: 0, output: 'done-nohup' });
    expect(Date.now() - started).toBeLessThan(30_000);
    const limited = await sb.arun('echo 0123456789', {
      mode: 'nohup',
      session: 's1',
      responseLimitedBytesInNohup: 4,
    });
    expect(limited).toMatchObject({ exit_code: 0, output: '0123' });
  });

  it('should write, read and upload files, creating parent directories', async () => {
    expect(await sb.writeFile('/tmp/rock/deep/a.txt', 'line1\nline2 ✓\n')).toMatchObject({
      success: true,
    });
    expect(await sb.readFile('/tmp/rock/deep/a.txt')).toEqual({ content: 'line1\nline2 ✓\n' });
    const local = join(scratch, 'local.bin');
    writeFileSync(local, Buffer.from([0, 1, 2, 255, 0x0a]));
    expect(await sb.uploadByPath(local, '/tmp/rock/up/local.bin')).toMatchObject({ success: true });
    expect((await sb.execute(['wc', '-c', '/tmp/rock/up/local.bin'])).stdout).toMatch(/^\s*5 /);
    expect((await sb.readFile('/tmp/rock/up/local.bin', null, 'replace')).content).toBe(
      '\u0000\u0001\u0002\uFFFD\n',
    );
    // A missing file: Failed, naming it, with the empty content the SDK reads as ROCK gives it.
    const missing = await post('read_file', {
      path: '/tmp/nope.txt',
      encoding: null,
      errors: null,
      sandbox_id: sb.sandboxId,
    }).expect(200);
    expect(missing.body).toMatchObject({
      status: 'Failed',
      result: { content: '', code: CODES.BAD_REQUEST },
    });
    expect(missing.body.error).toContain('/tmp/nope.txt');
    expect(await sb.readFile('/tmp/nope.txt')).toEqual({ content: '' });
    const big = join(scratch, 'big.bin');
    writeFileSync(big, Buffer.alloc(UPLOAD_LIMIT + 1));
    const over = await sb.uploadByPath(big, '/tmp/rock/big.bin');
    expect(over.success).toBe(false);
    expect(over.message).toMatch(/larger/);
    expect(await sb.getToken()).toBeNull();
  });

  it('should refuse to delete a live sandbox with 4000', async () => {
    const error = await sb.delete().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestRockError);
    expect((error as BadRequestRockError).code).toBe(CODES.BAD_REQUEST);
  });

  it('should stop (hidden from plain get_status), restart with files kept and sessions gone', async () => {
    await sb.stop();
    await expect(sb.getStatus()).rejects.toThrow(/Failed to get status/);
    await expect(sb.isAlive()).rejects.toThrow(/Failed to get is alive/);
    expect(await sb.getStatus(true)).toMatchObject({ state: 'stopped', is_alive: false });
    await sb.stop(); // a no-op on a stopped sandbox
    await sb.restart();
    expect(await sb.getStatus()).toMatchObject({
      state: 'running',
      is_alive: true,
      status: { docker_run: { status: 'success' } },
    });
    expect(await sb.readFile('/tmp/rock/deep/a.txt')).toEqual({ content: 'line1\nline2 ✓\n' });
    await expect(sb.arun('pwd', { session: 's1' })).rejects.toThrow(/does not exist/);
    await sb.createSession({ session: 's1' });
    expect((await sb.arun('cd ~ && pwd', { session: 's1' })).output).toBe('/root');
    const other = new RockSandbox({ baseUrl });
    await other.attach(sb.sandboxId!);
    expect(other.hostName).toBe(sb.hostName);
  });

  it('should delete a stopped sandbox; then only include_all_states sees it', async () => {
    await sb.stop();
    await sb.delete();
    await expect(sb.getStatus()).rejects.toThrow(/Failed to get status/);
    const deleted = await sb.getStatus(true);
    expect(deleted).toMatchObject({ state: 'deleted' });
    expect(typeof deleted.delete_time).toBe('string');
    await sb.delete(); // deleting a deleted sandbox is a no-op
  });

  it('should start under a chosen sandbox_id and refuse it twice', async () => {
    const name = `rock-${backend === 'embedded' ? 'e' : 'p'}-${Date.now()}`;
    const named = new RockSandbox({
      baseUrl,
      image: DEMO_IMAGE,
      memory: '128m',
      cpus: 0.2,
      sandboxId: name,
      disk: null,
    });
    await named.start();
    expect(named.sandboxId).toBe(name);
    expect((await named.getStatus()).sandbox_id).toBe(name);
    const again = new RockSandbox({
      baseUrl,
      image: DEMO_IMAGE,
      memory: '128m',
      cpus: 0.2,
      sandboxId: name,
    });
    await expect(again.start()).rejects.toThrow(/already exists/);
    await named.stop();
    await named.delete();
  });

  describe('bad input', () => {
    const failed = (body: any, field: RegExp) => {
      expect(body).toMatchObject({ status: 'Failed', result: { code: CODES.BAD_REQUEST } });
      expect(typeof body.message).toBe('string');
      expect(body.error).toMatch(field);
    };

    it('should answer 200 Failed envelopes naming the field, never 4xx or 5xx', async () => {
      failed(
        (await post('stop', { sandbox_id: '  ' }).expect(200)).body,
        /sandbox_id: must not be blank/,
      );
      failed(
        (await post('stop', { sandbox_id: 'no-such-sandbox' }).expect(200)).body,
        /no-such-sandbox not found/,
      );
      failed((await post('execute', { sandbox_id: 'x', command: 5 }).expect(200)).body, /command/);
      failed((await post('stop', '{"sandbox_id": ').expect(200)).body, /not valid JSON/);
      failed((await post('stop', '[1]').expect(200)).body, /JSON object/);
      failed(
        (await post('start_async', { image: DEMO_IMAGE, memory: 'lots' }).expect(200)).body,
        /memory/,
      );
      failed((await post('start_async', { image: '' }).expect(200)).body, /image/);
      failed(
        (await post('start_async', { image: DEMO_IMAGE, use_kata_runtime: true }).expect(200)).body,
        /kata/,
      );
      failed(
        (await post('start_async', { image: DEMO_IMAGE, cpus: 1000 }).expect(200)).body,
        /cpus/,
      );
      const status = await request(t.app.getHttpServer()).get(`${ROCK}/get_status`).expect(200);
      failed(status.body, /sandbox_id/);
      const flag = await request(t.app.getHttpServer())
        .get(`${ROCK}/get_status?sandbox_id=x&include_all_states=maybe`)
        .expect(200);
      failed(flag.body, /include_all_states/);
    });

    it('should refuse a huge command, bad session names and unsupported routes', async () => {
      const huge = 'echo ' + 'x'.repeat(2 * 1024 * 1024);
      failed(
        (
          await post('run_in_session', {
            sandbox_id: 'x',
            session: 'default',
            command: huge,
          }).expect(200)
        ).body,
        /larger/,
      );
      for (const session of ['a/b', '../x', 'a;rm -rf /', '$(id)', '']) {
        const res = await post('create_session', {
          sandbox_id: 'x',
          session,
          session_type: 'bash',
        }).expect(200);
        failed(res.body, /session/);
      }
      for (const [method, route] of [
        ['post', 'sandboxes/x/archive'],
        ['post', 'commit'],
        ['get', 'commit/x'],
        ['get', 'get_token?account=primary'],
        ['post', 'no_such_route'],
        ['get', 'sandboxes'],
      ] as const) {
        const res = await request(t.app.getHttpServer())[method](`${ROCK}/${route}`).expect(200);
        failed(res.body, /not supported/);
      }
    });

    it('should keep every status answer strictly parseable while a sandbox starts', async () => {
      const start = await post('start_async', {
        image: DEMO_IMAGE,
        memory: '64m',
        cpus: 0.1,
        auto_delete_seconds: 0,
      }).expect(200);
      expect(start.body.status).toBe('Success');
      const id = start.body.result.sandbox_id as string;
      const first = await request(t.app.getHttpServer())
        .get(`${ROCK}/get_status?sandbox_id=${id}&include_all_states=False`)
        .expect(200);
      expect(first.body.status).toBe('Success');
      parseStatus(first.body.result);
      expect(['pending', 'running']).toContain(first.body.result.state);
      await request(t.app.getHttpServer()).post(`/v1/sandboxes/${id}/stop`).send({});
    });
  });
});

describe('ROCK sessions shared by two API processes (PostgreSQL + Redis)', () => {
  let suite: Awaited<ReturnType<typeof testEnv>>;
  let a: ServerProcess;
  let b: ServerProcess;

  beforeAll(async () => {
    await ensureDemoImage();
    suite = await testEnv('postgres+redis', { SCHEDULER_ENABLED: 'false' });
    [a, b] = await Promise.all([ServerProcess.start(suite.env), ServerProcess.start(suite.env)]);
  });

  afterAll(async () => {
    await Promise.all([a?.kill('SIGTERM'), b?.kill('SIGTERM')]);
    await suite?.cleanup();
  });

  it('should keep one session across replicas and across a restart of the API process', async () => {
    const viaA = new RockSandbox({
      baseUrl: a.url,
      image: DEMO_IMAGE,
      memory: '128m',
      cpus: 0.2,
      autoDeleteSeconds: 60,
    });
    await viaA.start();
    const viaB = new RockSandbox({ baseUrl: b.url });
    await viaB.attach(viaA.sandboxId!);
    await viaA.createSession({ session: 'shared' });
    await viaA.arun('cd /tmp && export SHARED=yes', { session: 'shared' });
    expect((await viaB.arun('pwd; echo $SHARED', { session: 'shared' })).output).toBe(
      '/tmp\r\nyes',
    );
    await a.kill('SIGTERM');
    a = await ServerProcess.start(suite.env);
    const again = new RockSandbox({ baseUrl: a.url });
    await again.attach(viaA.sandboxId!);
    expect((await again.arun('echo $SHARED', { session: 'shared' })).output).toBe('yes');
    const nohup = await again.arun('echo from-nohup', {
      mode: 'nohup',
      session: 'shared',
      waitInterval: 5,
    });
    expect(nohup).toMatchObject({ exit_code: 0, output: 'from-nohup' });
    await viaB.stop();
    await viaB.delete();
  });
});
