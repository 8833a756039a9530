/** One command run inside a container through the engine's exec API. */
export interface ExecRequest {
  /** Program and arguments, run directly (no shell); pass ['sh', '-c', script] for one. */
  argv: string[];
  /** Added to the container's own environment. */
  env?: Record<string, string>;
  /** Absolute working directory inside the container; the image's WORKDIR when absent. */
  cwd?: string;
  /** `user`, `uid`, `user:group` or `uid:gid`; the container's user when absent. */
  user?: string;
  /** Written to the process's standard input, which is then closed. No stdin when absent. */
  stdin?: string | Buffer;
  /** The process tree is killed after this long (from the start of the exec). */
  timeoutMs: number;
  /** Per stream: bytes past this are read and dropped, and `truncated` is set. */
  outputLimitBytes: number;
}

export interface ExecResult {
  /** null when the engine could not tell (the process outlived a failed kill). */
  exitCode: number | null;
  stdout: Buffer;
  stderr: Buffer;
  timedOut: boolean;
  truncated: boolean;
  durationMs: number;
  /**
   * Gives back the share of the process-wide output budget (EXEC_OUTPUT_BUDGET) that stdout and
   * stderr hold; call it once they have been written out. Idempotent; a no-op without a budget.
   */
  release(): void;
}

export interface ExecOutputEvent {
  type: 'stdout' | 'stderr';
  data: Buffer;
}

/** Always the last event of a stream. */
export interface ExecExitEvent {
  type: 'exit';
  exitCode: number | null;
  timedOut: boolean;
  truncated: boolean;
  durationMs: number;
}

export type ExecEvent = ExecOutputEvent | ExecExitEvent;
