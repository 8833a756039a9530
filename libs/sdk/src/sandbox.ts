import { SandboxdError } from './errors';
import { Command, runExec, streamExec } from './exec';
import * as files from './files';
import { Transport } from './http';
import type {
  DirectoryListing,
  ExecEvent,
  ExecOptions,
  ExecResult,
  Port,
  PortsView,
  SandboxState,
  SandboxView,
  WrittenFile,
} from './types';
import {
  DEFAULT_WAIT_INTERVAL_MS,
  DEFAULT_WAIT_TIMEOUT_MS,
  WaitOptions,
  isDeadEnd,
  sleep,
} from './wait';

/**
 * A handle on one sandbox. `info` is the last view the service sent (null until something loaded
 * it); every call that answers with a view refreshes it.
 */
export class Sandbox {
  private view: SandboxView | null;

  constructor(
    private readonly transport: Transport,
    private readonly ref: string,
    view: SandboxView | null = null,
  ) {
    this.view = view;
  }

  get info(): SandboxView | null {
    return this.view;
  }

  /** The id once known; until then the id or name the handle was made with. */
  get id(): string {
    return this.view?.id ?? this.ref;
  }

  /**
   * Requests go to the id once it is known, not the name: a name is free again after a delete and
   * could then point at another sandbox.
   */
  private get path(): string {
    return `/v1/sandboxes/${encodeURIComponent(this.id)}`;
  }

  private async update(
    method: 'GET' | 'POST' | 'PATCH',
    suffix: string,
    json?: unknown,
  ): Promise<SandboxView> {
    this.view = await this.transport.json<SandboxView>({ method, path: this.path + suffix, json });
    return this.view;
  }

  refresh(): Promise<SandboxView> {
    return this.update('GET', '');
  }

  /** Stops it, keeping the container and its files; a no-op when already stopped. */
  stop(): Promise<SandboxView> {
    return this.update('POST', '/stop');
  }

  /** Starts a stopped sandbox again: same container, ports and files. */
  restart(): Promise<SandboxView> {
    return this.update('POST', '/restart');
  }

  /** Counts as activity: pushes the idle deadline out. */
  keepAlive(): Promise<SandboxView> {
    return this.update('POST', '/keepalive');
  }

  setProtected(value: boolean): Promise<SandboxView> {
    return this.update('PATCH', '', { protected: value });
  }

  /** Removes it for good; a live one only with force. The record stays, as deleted. */
  async delete(options: { force?: boolean } = {}): Promise<void> {
    await this.transport.empty({
      method: 'DELETE',
      path: this.path,
      query: { force: options.force ? true : undefined },
    });
  }

  /**
   * Polls until the sandbox is in `state` and no operation is in flight. Fails with
   * UNEXPECTED_STATE as soon as it settles where `state` cannot follow (see isDeadEnd), and with
   * WAIT_TIMEOUT when the time is up.
   */
  async waitUntil(state: SandboxState, options: WaitOptions = {}): Promise<SandboxView> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
    const intervalMs = options.intervalMs ?? DEFAULT_WAIT_INTERVAL_MS;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const view = await this.refresh();
      if (view.state === state && view.operation === null) return view;
      if (isDeadEnd(view, state)) {
        const reason = view.failureReason ? ` (${view.failureReason})` : '';
        throw new SandboxdError(
          0,
          'UNEXPECTED_STATE',
          `sandbox ${view.id} is ${view.state}, not ${state}${reason}`,
          { state: view.state, wanted: state, failureReason: view.failureReason },
        );
      }
      if (Date.now() + intervalMs > deadline) {
        throw new SandboxdError(
          0,
          'WAIT_TIMEOUT',
          `sandbox ${view.id} is still ${view.state}${view.operation ? ` (${view.operation})` : ''} after ${timeoutMs} ms`,
          { state: view.state, operation: view.operation, wanted: state },
        );
      }
      await sleep(intervalMs);
    }
  }

  /** Runs a command to its end and answers its exit code and (buffered) output. */
  exec(command: Command, options: ExecOptions = {}): Promise<ExecResult> {
    return runExec(this.transport, this.path, command, options);
  }

  /**
   * Runs a command and yields its output as it comes, then one `exit` event. Breaking out of the
   * loop aborts the request, which kills the command in the sandbox.
   */
  execStream(
    command: Command,
    options: ExecOptions = {},
  ): AsyncGenerator<ExecEvent, void, undefined> {
    return streamExec(this.transport, this.path, command, options);
  }

  read(path: string): Promise<files.PathContent> {
    return files.readPath(this.transport, this.path, path);
  }

  readFile(path: string): Promise<Uint8Array> {
    return files.readFile(this.transport, this.path, path);
  }

  listDir(path: string): Promise<DirectoryListing> {
    return files.listDir(this.transport, this.path, path);
  }

  writeFile(
    path: string,
    data: Uint8Array | string,
    options?: files.WriteFileOptions,
  ): Promise<WrittenFile> {
    return files.writeFile(this.transport, this.path, path, data, options);
  }

  deleteFile(path: string): Promise<void> {
    return files.deleteFile(this.transport, this.path, path);
  }

  async ports(): Promise<Port[]> {
    const view = await this.transport.json<PortsView>({
      method: 'GET',
      path: `${this.path}/ports`,
    });
    return view.ports;
  }
}
