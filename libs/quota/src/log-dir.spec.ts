// @app/config's DTO decorators need the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { isCodedError } from '@app/domain';
import { mkdtemp, rm, stat, symlink, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chmod, readFile } from 'node:fs/promises';
import { ensureLogDir, logDirPath, removeLogDir, secureLogRoot } from './log-dir';

describe('log dirs', () => {
  let base: string;
  let root: string;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'quota-logdir-'));
    root = join(base, 'logs');
  });

  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

  it('creates <root>/<id> with mode 0777 under a new 0700 root', async () => {
    const dir = await ensureLogDir(root, 'sb-1');
    expect(dir).toBe(join(root, 'sb-1'));
    expect(await mode(dir)).toBe(0o777);
    expect(await mode(root)).toBe(0o700);
  });

  it('is idempotent, keeps content, and leaves an existing root mode alone', async () => {
    await mkdir(root, { mode: 0o755 });
    const dir = await ensureLogDir(root, 'sb-1');
    await writeFile(join(dir, 'app.log'), 'line\n');
    await expect(ensureLogDir(root, 'sb-1')).resolves.toBe(dir);
    await expect(stat(join(dir, 'app.log'))).resolves.toBeDefined();
    expect(await mode(root)).toBe(0o755);
  });

  it.each([['..'], ['.'], ['../x'], ['a/b'], [''], ['x'.repeat(129)], ['sb 1']])(
    'refuses the sandbox id %j',
    async (id) => {
      const error = await ensureLogDir(root, id).catch((e: unknown) => e);
      expect(isCodedError(error, 'VALIDATION_FAILED')).toBe(true);
      await expect(removeLogDir(root, id)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    },
  );

  it('refuses a relative root', () => {
    expect(() => logDirPath('logs', 'sb-1')).toThrow(/absolute/);
  });

  it('refuses a symlink where the directory should be', async () => {
    await mkdir(root);
    await symlink(base, join(root, 'sb-1'));
    await expect(ensureLogDir(root, 'sb-1')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('removes the dir and its content, and again is a no-op', async () => {
    const dir = await ensureLogDir(root, 'sb-1');
    await mkdir(join(dir, 'nested'));
    await writeFile(join(dir, 'nested', 'f'), 'x');
    await removeLogDir(root, 'sb-1');
    await expect(stat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(removeLogDir(root, 'sb-1')).resolves.toBeUndefined();
    await expect(stat(root)).resolves.toBeDefined();
  });

  it('removes a planted symlink, never what it points to', async () => {
    const outside = join(base, 'host-file');
    await writeFile(outside, 'precious');
    const dir = await ensureLogDir(root, 'sb-1');
    await symlink(outside, join(dir, 'link'));
    await symlink(base, join(dir, 'dirlink'));
    await removeLogDir(root, 'sb-1');
    await expect(readFile(outside, 'utf8')).resolves.toBe('precious');
  });

  it('leaves a missing LOG_ROOT to the first log dir, and tightens one of ours, saying so', async () => {
    await expect(secureLogRoot(root)).resolves.toBeNull();
    await expect(stat(root)).rejects.toMatchObject({ code: 'ENOENT' });
    await mkdir(root, { mode: 0o700 });
    await expect(secureLogRoot(root)).resolves.toBeNull();
    await chmod(root, 0o755);
    await expect(secureLogRoot(root)).resolves.toMatch(/tightened to 0700/);
    expect(await mode(root)).toBe(0o700);
  });

  it('refuses a LOG_ROOT that is a symlink', async () => {
    await mkdir(join(base, 'real'));
    await symlink(join(base, 'real'), root);
    await expect(secureLogRoot(root)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });
});
