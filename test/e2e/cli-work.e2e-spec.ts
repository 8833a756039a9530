import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SandboxdClient } from '@app/sdk';
import { TestApp, createTestApp, eventually } from '../support/app';
import { DEMO_IMAGE, ensureDemoImage } from '../support/docker';

const CLI = join(__dirname, '..', '..', 'dist', 'apps', 'sandboxctl', 'main.js');

interface CliRun {
  status: number | null;
  stdout: Buffer;
  stderr: string;
  /** Milliseconds from spawn to the first stdout bytes (0 when none) and to exit. */
  firstStdoutMs: number;
  exitMs: number;
}

describe('sandboxctl against the real service (Docker, PostgreSQL, Redis)', () => {
  let t: TestApp;
  let url: string;
  let client: SandboxdClient;
  let id: string;
  let dir: string;

  function cli(args: string[], input?: Buffer): Promise<CliRun> {
    const started = Date.now();
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, SANDBOXD_URL: url },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let firstStdoutMs = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      firstStdoutMs ||= Date.now() - started;
      out.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.stdin.end(input);
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (status) =>
        resolve({
          status,
          stdout: Buffer.concat(out),
          stderr: Buffer.concat(err).toString('utf8'),
          firstStdoutMs,
          exitMs: Date.now() - started,
        }),
      );
    });
  }

  const text = (run: CliRun) => run.stdout.toString('utf8');

  beforeAll(async () => {
    if (!existsSync(CLI)) {
      throw new Error(`${CLI} is missing: run npm run build first (npx nest build sandboxctl)`);
    }
    await ensureDemoImage();
    t = await createTestApp('postgres+redis');
    await t.app.listen(0, '127.0.0.1');
    url = await t.app.getUrl();
    client = new SandboxdClient({ baseUrl: url });
    dir = mkdtempSync(join(tmpdir(), 'sandboxctl-e2e-'));
  });

  afterAll(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await t?.close();
  });

  it('should create a sandbox and wait for it (JSON answer)', async () => {
    const run = await cli([
      'create',
      DEMO_IMAGE,
      '--wait',
      '--json',
      '--label',
      'suite=cli',
      '--env',
      'MODE=a=b',
      '--port',
      '8080',
      '--memory',
      '64m',
    ]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const view = JSON.parse(text(run));
    expect(view).toMatchObject({ state: 'running', labels: { suite: 'cli' }, envKeys: ['MODE'] });
    id = view.id;
  });

  it('should print just the id without --json', async () => {
    const run = await cli(['create', DEMO_IMAGE, '--label', 'suite=cli-plain']);
    expect(run.status).toBe(0);
    expect(text(run)).toMatch(/^[0-9a-z]+\n$/);
    const made = text(run).trim();
    expect((await client.get(made)).info.image).toBe(DEMO_IMAGE);
  });

  it('should list sandboxes as a table and as JSON, filtered by label and state', async () => {
    const table = await cli(['ls', '--label', 'suite=cli', '--state', 'running']);
    expect(table.status).toBe(0);
    const lines = text(table).trimEnd().split('\n');
    expect(lines[0].split(/\s{2,}/)).toEqual(['ID', 'NAME', 'STATE', 'IMAGE', 'PORTS', 'CREATED']);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(id);
    expect(lines[1]).toMatch(/8080→\d+/);
    const json = JSON.parse(text(await cli(['--json', 'ls', '--label', 'suite=cli'])));
    expect(json.map((v: { id: string }) => v.id)).toEqual([id]);
  });

  it('should show one sandbox, and fail with the error code for a missing one', async () => {
    const run = await cli(['get', id]);
    expect(run.status).toBe(0);
    expect(text(run)).toMatch(new RegExp(`^id: +${id}$`, 'm'));
    expect(text(run)).toMatch(/^state: +running$/m);
    const missing = await cli(['get', 'no-such-sandbox']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^error: SANDBOX_NOT_FOUND: .+\n$/);
    expect(text(missing)).toBe('');
  });

  it("should run a command, split its streams and exit with the command's code", async () => {
    const run = await cli(['exec', id, '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(run.status).toBe(3);
    expect(text(run)).toBe('out\n');
    expect(run.stderr).toBe('err\n');
    const ok = await cli(['exec', '-e', 'A=1', id, '--', 'sh', '-c', 'echo $A']);
    expect([ok.status, text(ok)]).toEqual([0, '1\n']);
  });

  it('should stream output live', async () => {
    const script = 'for i in 1 2 3 4; do echo line$i; sleep 1; done';
    const run = await cli(['exec', id, '--', 'sh', '-c', script]);
    expect(run.status).toBe(0);
    expect(text(run)).toBe('line1\nline2\nline3\nline4\n');
    expect(run.firstStdoutMs).toBeGreaterThan(0);
    expect(run.exitMs - run.firstStdoutMs).toBeGreaterThanOrEqual(1500);
  });

  it('should kill a command at --timeout (status 124) and leave no process behind', async () => {
    const run = await cli(['exec', '--timeout', '2', id, '--', 'sleep', '100']);
    expect(run.status).toBe(124);
    expect(run.stderr).toContain('TIMED_OUT');
    await eventually(async () => {
      const ps = await client.sandbox(id).exec(['ps', '-o', 'pid,args']);
      return ps.stdout.includes('sleep 100') ? undefined : true;
    });
  });

  it('should kill the command in the sandbox on Ctrl-C (status 130)', async () => {
    const child = spawn(
      process.execPath,
      [CLI, 'exec', id, '--', 'sh', '-c', 'echo go; sleep 102'],
      {
        env: { ...process.env, SANDBOXD_URL: url },
      },
    );
    child.stdout.once('data', () => child.kill('SIGINT'));
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(status).toBe(130);
    await eventually(async () => {
      const ps = await client.sandbox(id).exec(['ps', '-o', 'pid,args']);
      return ps.stdout.includes('sleep 102') ? undefined : true;
    });
  });

  it('should copy 5 MiB into the sandbox and back, byte-identical', async () => {
    const data = randomBytes(5 * 1024 * 1024);
    const local = join(dir, 'blob.bin');
    writeFileSync(local, data, { mode: 0o640 });
    await client.sandbox(id).exec(['mkdir', '-p', '/tmp/cli']);
    const up = await cli(['cp', local, `${id}:/tmp/cli/`]);
    expect([up.status, up.stderr]).toEqual([0, '']);
    const listing = await client.sandbox(id).listDir('/tmp/cli');
    expect(listing.entries).toEqual([
      expect.objectContaining({ name: 'blob.bin', size: data.length, mode: '0640' }),
    ]);
    const down = await cli(['cp', `${id}:/tmp/cli/blob.bin`, join(dir, 'back.bin')]);
    expect([down.status, down.stderr]).toEqual([0, '']);
    expect(readFileSync(join(dir, 'back.bin')).equals(data)).toBe(true);
    const piped = await cli(['cp', `${id}:/tmp/cli/blob.bin`, '-']);
    expect(piped.stdout.equals(data)).toBe(true);
    const fromStdin = await cli(['cp', '-', `${id}:/tmp/cli/stdin.txt`], Buffer.from('via stdin'));
    expect(fromStdin.status).toBe(0);
    expect(text(await cli(['cp', `${id}:/tmp/cli/stdin.txt`, '-']))).toBe('via stdin');
  });

  it('should fail cleanly on bad paths', async () => {
    const local = join(dir, 'small.txt');
    writeFileSync(local, 'x');
    for (const args of [
      ['cp', local, `${id}:../../etc/passwd`],
      ['cp', `${id}:../../etc/passwd`, join(dir, 'stolen')],
      ['cp', `${id}:/tmp/no/such/file`, join(dir, 'none')],
      ['cp', `${id}:/tmp`, join(dir, 'dir')],
    ]) {
      const run = await cli(args);
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(/^error: [A-Z_]+: .+\n$/);
    }
    expect(existsSync(join(dir, 'stolen'))).toBe(false);
  });

  it('should exit 2 on usage errors', async () => {
    for (const args of [
      ['exec'],
      ['cp', 'a', 'b'],
      ['create', DEMO_IMAGE, '--port', 'http'],
      ['create', DEMO_IMAGE, '--env', 'NOVALUE'],
      ['ls', '--state', 'sleeping'],
      ['frobnicate'],
    ]) {
      const run = await cli(args);
      expect({ args, status: run.status }).toEqual({ args, status: 2 });
      expect(run.stderr).toMatch(/^error: /);
    }
  });

  it('should show ports, keep alive, stop, refuse exec when stopped, restart and remove', async () => {
    const ports = JSON.parse(text(await cli(['ports', id, '--json'])));
    expect(ports).toEqual([expect.objectContaining({ containerPort: 8080 })]);
    expect(text(await cli(['keepalive', id]))).toBe(`${id} running\n`);
    expect(text(await cli(['stop', id]))).toBe(`${id} stopped\n`);
    const refused = await cli(['exec', id, '--', 'true']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^error: SANDBOX_NOT_RUNNING: /);
    const restarted = await cli(['restart', id]);
    expect(restarted.status).toBe(0);
    await client.sandbox(id).waitUntil('running');
    const live = await cli(['rm', id]);
    expect(live.status).toBe(1);
    expect(live.stderr).toMatch(/^error: INVALID_TRANSITION: /);
    expect((await cli(['rm', '--force', id])).status).toBe(0);
    expect((await client.get(id)).info.state).toBe('deleted');
  });
});
