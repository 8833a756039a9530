import { CommandRunner, type CommandResult, type RunOptions } from '../command-runner';

export interface RecordedCall {
  file: string;
  args: readonly string[];
  options: RunOptions;
}

type Response = CommandResult | Error;
type Responder = (args: readonly string[]) => Response;

interface Rule {
  file: string;
  matches: (args: readonly string[]) => boolean;
  respond: Responder;
}

/**
 * A scripted CommandRunner. Each rule answers one program (optionally only for some arguments);
 * the most recently added matching rule wins, so a test can override one step of a shared
 * scenario. A command no rule expects fails the test's promise loudly instead of returning a
 * default, so an unplanned `xfs_quota limit` could never pass unnoticed.
 */
export class FakeCommandRunner extends CommandRunner {
  readonly calls: RecordedCall[] = [];
  private readonly rules: Rule[] = [];

  on(
    file: string,
    matches: ((args: readonly string[]) => boolean) | null,
    response: Response | Responder,
  ): this {
    const respond = typeof response === 'function' ? response : (): Response => response;
    this.rules.unshift({ file, matches: matches ?? ((): boolean => true), respond });
    return this;
  }

  override run(file: string, args: readonly string[], options: RunOptions): Promise<CommandResult> {
    this.calls.push({ file, args: [...args], options });
    const rule = this.rules.find((r) => r.file === file && r.matches(args));
    if (rule === undefined) {
      return Promise.reject(new Error(`unexpected command: ${file} ${args.join(' ')}`));
    }
    const response = rule.respond(args);
    return response instanceof Error ? Promise.reject(response) : Promise.resolve(response);
  }

  /** Every argument of every call, for assertions such as "never ran limit". */
  allArgs(): string[] {
    return this.calls.flatMap((call) => [call.file, ...call.args]);
  }
}

export function ok(stdout: string): CommandResult {
  return { stdout, stderr: '', exitCode: 0 };
}

export function exited(exitCode: number, stderr: string): CommandResult {
  return { stdout: '', stderr, exitCode };
}

/** Argument matcher: the last argument (the path or mount point the command acts on). */
export function lastArgIs(value: string): (args: readonly string[]) => boolean {
  return (args) => args[args.length - 1] === value;
}
