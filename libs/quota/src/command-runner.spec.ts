// @app/config's DTO decorators need the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { isCodedError } from '@app/domain';
import { CommandError, CommandRunner, MAX_OUTPUT_BYTES, requireSuccess } from './command-runner';

/** Runs small Node scripts: a real child process without depending on any other program. */
const NODE = process.execPath;
const runner = new CommandRunner();
const node = (script: string, ...args: string[]): ReturnType<CommandRunner['run']> =>
  runner.run(NODE, ['-e', script, ...args], { timeoutMs: 10_000 });

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('CommandRunner', () => {
  it('returns stdout, stderr and exit code 0', async () => {
    const result = await node('process.stdout.write("out"); process.stderr.write("err")');
    expect(result).toEqual({ stdout: 'out', stderr: 'err', exitCode: 0 });
  });

  it('resolves a non-zero exit code rather than throwing', async () => {
    const result = await node('process.stderr.write("bad"); process.exit(3)');
    expect(result).toEqual({ stdout: '', stderr: 'bad', exitCode: 3 });
  });

  it('passes arguments verbatim, with no shell to interpret them', async () => {
    const hostile = '$(touch /tmp/pwned); `id` > x | y; *';
    const result = await node(
      'process.stdout.write(JSON.stringify(process.argv.slice(1)))',
      hostile,
      'a b',
    );
    expect(JSON.parse(result.stdout)).toEqual([hostile, 'a b']);
  });

  it('feeds input to stdin, and closes stdin when there is none', async () => {
    const echo =
      'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>process.stdout.write(s))';
    await expect(
      runner.run(NODE, ['-e', echo], { timeoutMs: 10_000, input: 'hello' }),
    ).resolves.toEqual({ stdout: 'hello', stderr: '', exitCode: 0 });
    await expect(node(echo)).resolves.toMatchObject({ stdout: '', exitCode: 0 });
  });

  it('kills a child that overruns its timeout', async () => {
    const started = Date.now();
    const error = await rejectionOf(
      runner.run(NODE, ['-e', 'setTimeout(() => {}, 30000)'], { timeoutMs: 300 }),
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(CommandError);
    expect(isCodedError(error, 'INTERNAL_ERROR')).toBe(true);
    expect((error as CommandError).message).toMatch(/timed out after 300 ms/);
    expect((error as CommandError).details).toMatchObject({ file: NODE, exitCode: null });
  });

  it('kills a child whose output passes the cap', async () => {
    const flood = `process.stdout.write("x".repeat(${MAX_OUTPUT_BYTES + 10}))`;
    const error = await rejectionOf(node(flood));
    expect((error as CommandError).message).toMatch(/output exceeded/);
  });

  it('reports a program that does not exist', async () => {
    const error = await rejectionOf(
      runner.run('/nonexistent/program', ['x'], { timeoutMs: 1_000 }),
    );
    expect(error).toBeInstanceOf(CommandError);
    expect((error as CommandError).message).toMatch(/could not run \(ENOENT\)/);
    expect((error as CommandError).details).toEqual({
      file: '/nonexistent/program',
      args: ['x'],
      exitCode: null,
      stderr: '',
    });
  });

  it('reports a child killed by a signal', async () => {
    const error = await rejectionOf(node('process.kill(process.pid, "SIGTERM")'));
    expect((error as CommandError).message).toMatch(/killed by SIGTERM/);
  });

  it('refuses a timeout that is not positive', async () => {
    await expect(runner.run(NODE, [], { timeoutMs: 0 })).rejects.toBeInstanceOf(RangeError);
  });
});

describe('requireSuccess', () => {
  it('passes exit 0 and turns anything else into a CommandError with details', () => {
    const good = { stdout: 'x', stderr: '', exitCode: 0 };
    expect(requireSuccess(good, 'tool', [])).toBe(good);
    let thrown: unknown;
    try {
      requireSuccess({ stdout: '', stderr: 'first\nsecond', exitCode: 2 }, 'tool', ['-a']);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CommandError);
    expect((thrown as CommandError).message).toBe('tool exited with 2: first');
    expect((thrown as CommandError).details).toEqual({
      file: 'tool',
      args: ['-a'],
      exitCode: 2,
      stderr: 'first\nsecond',
    });
  });
});
