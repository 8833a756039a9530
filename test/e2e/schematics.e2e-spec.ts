import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { testEnv } from '../support/app';
import { DEMO_IMAGE, ensureDemoImage } from '../support/docker';
import { freePort, waitUntilLive } from '../support/server-process';

const REPO = join(__dirname, '..', '..');

/**
 * A scratch copy of the repository: every tracked (or new, not ignored) file copied, and a
 * node_modules of symlinks into the real one, so nothing is installed; the schematics workspace
 * is linked as npm would link it.
 */
function scratchCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sandboxd-schematics-'));
  const listed = spawnSync(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    {
      cwd: REPO,
      encoding: 'utf8',
    },
  );
  for (const file of listed.stdout.split('\0').filter((f) => f !== '')) {
    try {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      copyFileSync(join(REPO, file), join(dir, file));
    } catch {
      // A file deleted from the work tree but still in the index: not part of the copy.
    }
  }
  const modules = realpathSync(join(REPO, 'node_modules'));
  mkdirSync(join(dir, 'node_modules', '@sandboxd'), { recursive: true });
  for (const entry of readdirSync(modules)) {
    if (entry === '@sandboxd') continue;
    symlinkSync(join(modules, entry), join(dir, 'node_modules', entry));
  }
  symlinkSync(
    join(dir, 'libs', 'schematics'),
    join(dir, 'node_modules', '@sandboxd', 'schematics'),
  );
  return dir;
}

function run(cwd: string, command: string, args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 300_000,
  });
  const output = `${result.stdout}${result.stderr}`;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status}):\n${output}`);
  }
  return output;
}

describe('nest g -c @sandboxd/schematics in a scratch copy of the repository', () => {
  let dir: string;
  let suite: Awaited<ReturnType<typeof testEnv>>;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    await ensureDemoImage();
    dir = scratchCopy();
    suite = await testEnv('embedded');
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await suite?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function start(
    env: Record<string, string>,
  ): Promise<{ child: ChildProcess; logs: () => string; url: string }> {
    return freePort().then(async (port) => {
      const child = spawn(process.execPath, [join(dir, 'dist/apps/sandbox-api/main.js')], {
        cwd: dir,
        env: {
          ...process.env,
          ...suite.env,
          ...env,
          PORT: String(port),
          HOST: '127.0.0.1',
          LOG_LEVEL: 'log',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let output = '';
      child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      const url = `http://127.0.0.1:${port}`;
      await waitUntilLive(child, url, () => output);
      // Without the colours of Nest's logger, to match on the text.
      // eslint-disable-next-line no-control-regex
      return { child, logs: () => output.replace(/\x1b\[[0-9;]*m/g, ''), url };
    });
  }

  it('generates an extension that lints, builds, passes its spec and loads with EXTENSIONS', async () => {
    run(dir, process.execPath, [
      'node_modules/typescript/bin/tsc',
      '-p',
      'libs/schematics/tsconfig.build.json',
    ]);
    const nest = 'node_modules/@nestjs/cli/bin/nest.js';
    // -p answers the Nest CLI's "which project?" question; the library goes to libs/extensions.
    run(dir, process.execPath, [
      nest,
      'g',
      '-c',
      '@sandboxd/schematics',
      'extension',
      'hello',
      '-p',
      'sandbox-api',
    ]);
    run(dir, process.execPath, [
      nest,
      'g',
      '-c',
      '@sandboxd/schematics',
      'policy',
      'gate',
      '-p',
      'sandbox-api',
    ]);
    expect(readdirSync(join(dir, 'libs/extensions/hello/src')).sort()).toEqual([
      'hello.module.ts',
      'hello.policy.ts',
      'hello.spec.ts',
      'hello.subscriber.ts',
      'index.ts',
    ]);
    const registry = readFileSync(
      join(dir, 'apps/sandbox-api/src/extensions/extension-registry.ts'),
      'utf8',
    );
    expect(registry).toContain("import { helloExtension } from '@app/extensions/hello';");
    expect(registry).toContain('  gateExtension,');
    const generated = [
      'libs/extensions/hello',
      'libs/extensions/gate',
      'apps/sandbox-api/src/extensions',
    ];
    run(dir, process.execPath, ['node_modules/prettier/bin/prettier.cjs', '--check', ...generated]);
    run(dir, process.execPath, [
      'node_modules/eslint/bin/eslint.js',
      '--max-warnings',
      '0',
      ...generated,
    ]);
    run(dir, 'npm', ['run', 'build']);
    const spec = run(dir, process.execPath, [
      'node_modules/jest/bin/jest.js',
      'libs/extensions/hello',
      'libs/extensions/gate',
    ]);
    expect(spec).toMatch(/Tests:\s+5 passed, 5 total/);

    const server = await start({ EXTENSIONS: 'hello,gate' });
    expect(server.logs()).toContain('extension hello enabled');
    expect(server.logs()).toContain('extension gate enabled');
    const created = await fetch(`${server.url}/v1/sandboxes?wait=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image: DEMO_IMAGE }),
    });
    expect(created.status).toBe(200);
    const { id } = (await created.json()) as { id: string };
    const deadline = Date.now() + 10_000;
    while (!server.logs().includes(`sandbox.running ${id}`) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(server.logs()).toContain(`[hello] sandbox.created ${id}`);
    expect(server.logs()).toContain(`[hello] sandbox.running ${id}`);
    await fetch(`${server.url}/v1/sandboxes/${id}?force=true`, { method: 'DELETE' });
    server.child.kill('SIGTERM');
  });

  it('stops the start with a clear message when EXTENSIONS names an unknown extension', async () => {
    await expect(start({ EXTENSIONS: 'hello,nope' })).rejects.toThrow(
      /EXTENSIONS names an unknown extension "nope"; this build has: webhooks, image-policy, hello, gate/,
    );
  });
});
