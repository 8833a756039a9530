import { PassThrough } from 'node:stream';
import type { ExecResult } from '@app/sdk';
import type Dockerode from 'dockerode';
import { callApi, expectStatus } from './http';

/** What one exec produced, and how long the caller waited for it. */
export interface ExecRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** Round trip in milliseconds. */
  ms: number;
}

/** The instants of a direct exec, for the breakdown (performance.now() milliseconds). */
export interface DirectExecRun extends ExecRun {
  marks: {
    sent: number;
    created: number;
    started: number;
    outputEnded: number;
    exitCodeRead: number;
  };
  /** exec inspects needed until the engine stopped saying Running (1 = recorded at once). */
  inspects: number;
}

/** The API's exec answer (POST /v1/sandboxes/:id/exec without a streaming Accept header). */
export type ExecAnswer = ExecResult;

/** Polls of the exit code after the output ended: at most this long, this often. */
const EXIT_WAIT_MS = 2_000;
const EXIT_POLL_MS = 1;

/** POST /v1/sandboxes/:id/exec with `{command: argv}`, answered as one JSON document. */
export async function apiExec(
  url: string,
  sandboxId: string,
  argv: readonly string[],
): Promise<ExecRun & { durationMs: number }> {
  const answer = await callApi<ExecAnswer>(url, 'POST', `/v1/sandboxes/${sandboxId}/exec`, {
    command: argv,
  });
  const body = expectStatus(answer, 200, 'API exec');
  return {
    exitCode: body.exitCode,
    stdout: body.stdout,
    stderr: body.stderr,
    ms: answer.ms,
    durationMs: body.durationMs,
  };
}

/**
 * The baseline: what any Docker client does to run a command and learn its exit code, and
 * nothing else. exec create, exec start (hijacked, no stdin, no TTY), the output demultiplexed
 * until the stream ends, then exec inspect until the engine has recorded the exit code (it may
 * still say Running for a moment after the output ended; polled every millisecond).
 */
export async function directExec(
  docker: Dockerode,
  containerId: string,
  argv: readonly string[],
): Promise<DirectExecRun> {
  const sent = performance.now();
  const exec = await docker.getContainer(containerId).exec({
    Cmd: [...argv],
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
  });
  const created = performance.now();
  const stream = await exec.start({ hijack: true, stdin: false });
  const started = performance.now();
  const stdout = collect();
  const stderr = collect();
  docker.modem.demuxStream(stream, stdout.sink, stderr.sink);
  await new Promise<void>((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('error', reject);
  });
  const outputEnded = performance.now();
  let inspects = 1;
  let info = await exec.inspect();
  while (info.Running && performance.now() - outputEnded < EXIT_WAIT_MS) {
    await new Promise((resolve) => setTimeout(resolve, EXIT_POLL_MS));
    inspects += 1;
    info = await exec.inspect();
  }
  const exitCodeRead = performance.now();
  return {
    exitCode: info.Running ? null : info.ExitCode,
    stdout: stdout.text(),
    stderr: stderr.text(),
    ms: exitCodeRead - sent,
    marks: { sent, created, started, outputEnded, exitCodeRead },
    inspects,
  };
}

function collect(): { sink: PassThrough; text: () => string } {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { sink, text: () => Buffer.concat(chunks).toString('utf8') };
}
