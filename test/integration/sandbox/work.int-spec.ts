import { Readable } from 'node:stream';
import { isCodedError, ANONYMOUS_ACTOR } from '@app/domain';
import type { ExecResult, FileInfo, FileRead } from '@app/deployment';
import { Harness, bootHarness, containerIdOf, containerState, freezeClock, until } from './support';

const T0 = '2026-06-01T12:00:00.000Z';
const iso = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();

const FILE_INFO: FileInfo = {
  path: '/etc/hostname',
  name: 'hostname',
  type: 'file',
  size: 3,
  mode: 0o644,
  mtime: new Date(T0),
  linkTarget: null,
};

function execResult(stdout: string): ExecResult {
  return {
    exitCode: 0,
    stdout: Buffer.from(stdout),
    stderr: Buffer.alloc(0),
    timedOut: false,
    truncated: false,
    durationMs: 1,
    release: () => undefined,
  };
}

function fileRead(): FileRead {
  return { kind: 'file', info: FILE_INFO, content: Readable.from([Buffer.from('abc')]) };
}

/** The code of the CodedError a promise rejects with (fails the test on anything else). */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection, but the call succeeded');
    },
    (e: unknown) => e,
  );
  if (!isCodedError(error)) throw error;
  return error.code;
}

describe('SandboxWorkService on the real store', () => {
  let h: Harness;

  beforeEach(async () => {
    h = await bootHarness({ env: { AUTO_DELETE_AFTER_SECONDS: '-1' } });
  });

  afterEach(async () => {
    await h.close();
    jest.useRealTimers();
  });

  it('runs a command in the running container, a string through sh -c', async () => {
    const sandbox = await h.createRunning({ name: 'work-exec' });
    h.deployment.exec.mockResolvedValue(execResult('hi\n'));

    const result = await h.work.exec(ANONYMOUS_ACTOR, 'work-exec', { command: 'echo hi' });

    expect(result.stdout.toString()).toBe('hi\n');
    expect(h.deployment.exec).toHaveBeenCalledTimes(1);
    const [containerId, request] = h.deployment.exec.mock.calls[0];
    expect(containerId).toBe(containerIdOf(sandbox.id));
    expect(request).toMatchObject({
      argv: ['sh', '-c', 'echo hi'],
      timeoutMs: h.config.exec.defaultTimeoutSeconds * 1000,
      outputLimitBytes: h.config.exec.outputLimitBytes,
    });
  });

  it('refuses a timeout above EXEC_MAX_TIMEOUT_SECONDS before asking Docker', async () => {
    const sandbox = await h.createRunning();
    const tooLong = h.config.exec.maxTimeoutSeconds + 1;

    expect(
      await codeOf(
        h.work.exec(ANONYMOUS_ACTOR, sandbox.id, { command: ['true'], timeoutSeconds: tooLong }),
      ),
    ).toBe('VALIDATION_FAILED');
    expect(h.deployment.exec).not.toHaveBeenCalled();
  });

  it('refuses exec, stream, write and delete on a stopped sandbox with SANDBOX_NOT_RUNNING', async () => {
    const sandbox = await h.createRunning();
    await h.sandboxes.stop(ANONYMOUS_ACTOR, sandbox.id);

    expect(await codeOf(h.work.exec(ANONYMOUS_ACTOR, sandbox.id, { command: 'true' }))).toBe(
      'SANDBOX_NOT_RUNNING',
    );
    expect(await codeOf(h.work.execStream(ANONYMOUS_ACTOR, sandbox.id, { command: 'true' }))).toBe(
      'SANDBOX_NOT_RUNNING',
    );
    expect(
      await codeOf(h.work.writeFile(ANONYMOUS_ACTOR, sandbox.id, '/tmp/x', Buffer.from('x'))),
    ).toBe('SANDBOX_NOT_RUNNING');
    expect(await codeOf(h.work.deleteFile(ANONYMOUS_ACTOR, sandbox.id, '/tmp/x'))).toBe(
      'SANDBOX_NOT_RUNNING',
    );
    // Strict mocks: any of these reaching Docker would have thrown a plain Error above.
    expect(h.deployment.exec).not.toHaveBeenCalled();
    expect(h.deployment.execStream).not.toHaveBeenCalled();
    expect(h.deployment.writeFile).not.toHaveBeenCalled();
    expect(h.deployment.deleteFile).not.toHaveBeenCalled();
  });

  it('reads files of a stopped sandbox (Docker reads a stopped file system)', async () => {
    const sandbox = await h.createRunning();
    await h.sandboxes.stop(ANONYMOUS_ACTOR, sandbox.id);
    h.deployment.readFile.mockResolvedValue(fileRead());

    const read = await h.work.read(ANONYMOUS_ACTOR, sandbox.id, '/etc/hostname');

    expect(read.kind).toBe('file');
    const [containerId, path, options] = h.deployment.readFile.mock.calls[0];
    expect([containerId, path]).toEqual([containerIdOf(sandbox.id), '/etc/hostname']);
    expect(options.maxBytes).toBe(h.config.files.sizeLimitBytes);
  });

  it('stats a path with one engine stat, reading no content, also on a stopped sandbox', async () => {
    const sandbox = await h.createRunning();
    await h.sandboxes.stop(ANONYMOUS_ACTOR, sandbox.id);
    h.deployment.statFile.mockResolvedValue(FILE_INFO);

    expect(await h.work.stat(ANONYMOUS_ACTOR, sandbox.id, '/etc/hostname')).toEqual(FILE_INFO);
    const [containerId, path] = h.deployment.statFile.mock.calls[0];
    expect([containerId, path]).toEqual([containerIdOf(sandbox.id), '/etc/hostname']);
    expect(h.deployment.readFile).not.toHaveBeenCalled();
  });

  it('refuses to read from a deleted sandbox', async () => {
    const sandbox = await h.createRunning();
    await h.sandboxes.delete(ANONYMOUS_ACTOR, sandbox.id, true);

    expect(await codeOf(h.work.read(ANONYMOUS_ACTOR, sandbox.id, '/etc/hostname'))).toBe(
      'SANDBOX_NOT_RUNNING',
    );
    expect(h.deployment.readFile).not.toHaveBeenCalled();
  });

  it('answers SANDBOX_NOT_FOUND for an id that does not exist', async () => {
    expect(await codeOf(h.work.exec(ANONYMOUS_ACTOR, 'sbx-nope', { command: 'true' }))).toBe(
      'SANDBOX_NOT_FOUND',
    );
    expect(await codeOf(h.work.read(ANONYMOUS_ACTOR, 'sbx-nope', '/'))).toBe('SANDBOX_NOT_FOUND');
  });

  it('writes and deletes files in a running sandbox, within FILE_SIZE_LIMIT', async () => {
    const sandbox = await h.createRunning();
    h.deployment.writeFile.mockResolvedValue(FILE_INFO);
    h.deployment.deleteFile.mockResolvedValue('deleted');

    await h.work.writeFile(ANONYMOUS_ACTOR, sandbox.id, '/tmp/x', Buffer.from('x'), {
      mode: 0o600,
    });
    await h.work.deleteFile(ANONYMOUS_ACTOR, sandbox.id, '/tmp/x');

    const [written, path, data, options] = h.deployment.writeFile.mock.calls[0];
    expect([written, path, data]).toEqual([containerIdOf(sandbox.id), '/tmp/x', Buffer.from('x')]);
    expect(options).toMatchObject({ mode: 0o600, maxBytes: h.config.files.sizeLimitBytes });
    expect(h.deployment.deleteFile.mock.calls[0].slice(0, 2)).toEqual([
      containerIdOf(sandbox.id),
      '/tmp/x',
    ]);
  });

  it('counts an exec as activity: the idle deadline moves from the moment of the exec', async () => {
    const setNow = freezeClock(T0);
    const sandbox = await h.createRunning({ idleTimeoutSeconds: 100 });
    expect(sandbox.autoStopAt).toBe(iso(100));
    h.deployment.exec.mockResolvedValue(execResult(''));

    setNow(iso(60));
    await h.work.exec(ANONYMOUS_ACTOR, sandbox.id, { command: 'true' });

    const after = await until(async () => {
      const info = await h.info(sandbox.id);
      return info.autoStopAt === iso(160) ? info : undefined;
    });
    expect(after.lastActivityAt).toBe(iso(60));
    // The scan agrees: not due at the old deadline any more.
    expect(await h.automation.autoStopDue(new Date(iso(120)))).toMatchObject({ scanned: 0 });
  });

  it('lists the host ports of a sandbox on its host address', async () => {
    h.deployment.provision.mockImplementation((spec) =>
      Promise.resolve(containerState(spec.sandboxId, { ports: { '8080': 31_080 } })),
    );
    const sandbox = await h.createRunning({ ports: [8080] });

    expect(await h.work.ports(ANONYMOUS_ACTOR, sandbox.id)).toEqual([
      { containerPort: 8080, hostAddress: '127.0.0.1', hostPort: 31_080 },
    ]);
  });
});
