import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';

/**
 * A client of ROCK's sandbox API written from its wire contract (rl-rock 1.11's
 * rock.sdk.sandbox.client.Sandbox, see shared/reference/rock-sdk-contract.md): the same routes,
 * bodies (every field, nulls included), headers, polling loops and strict result parsing, so a
 * test that passes with it is a test ROCK's own SDK would pass. Not a ROCK implementation.
 */

type Json = Record<string, any>;

export const CODES = {
  OK: 2000,
  BAD_REQUEST: 4000,
  INTERNAL_SERVER_ERROR: 5000,
  COMMAND_ERROR: 6000,
};
const VALID_CODES = new Set(Object.values(CODES));
const STATES = new Set(['pending', 'running', 'stopped', 'archiving', 'archived', 'deleted']);

/** rock.sdk.common.exceptions: RockException and its subclasses, by code range. */
export class RockException extends Error {
  constructor(
    message: string,
    readonly code: number | null,
  ) {
    super(message);
  }
}
export class BadRequestRockError extends RockException {}
export class InternalServerRockError extends RockException {}
export class CommandRockError extends RockException {}

/** What pydantic would refuse: the SDK raises a ValidationError on these. */
export class ModelValidationError extends Error {}

/** httpx's raise_for_status: any non-2xx answer. */
export class HttpStatusError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

export interface SandboxConfig {
  baseUrl: string;
  image: string;
  autoClearSeconds: number;
  startupTimeout: number;
  memory: string;
  cpus: number;
  disk: string | null;
  autoDeleteSeconds: number | null;
  autoArchiveSeconds: number | null;
  useKataRuntime: boolean;
  sandboxId: string | null;
  cluster: string;
  userId?: string;
  experimentId?: string;
  namespace?: string;
  extraHeaders: Record<string, string>;
}

export const DEFAULT_CONFIG: Omit<SandboxConfig, 'baseUrl'> = {
  image: 'python:3.11',
  autoClearSeconds: 300,
  startupTimeout: 180,
  memory: '8g',
  cpus: 2,
  disk: '50G',
  autoDeleteSeconds: null,
  autoArchiveSeconds: null,
  useKataRuntime: false,
  sandboxId: null,
  cluster: 'vpc-nt-a',
  extraHeaders: {},
};

export interface Observation {
  session_type: 'bash';
  output: string;
  exit_code: number | null;
  failure_reason: string;
  expect_string: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function raiseForCode(code: number | null | undefined, message: string): void {
  if (code === null || code === undefined || (code >= 2000 && code < 3000)) return;
  if (code >= 4000 && code < 5000) throw new BadRequestRockError(message, code);
  if (code >= 5000 && code < 6000) throw new InternalServerRockError(message, code);
  if (code >= 6000 && code < 7000) throw new CommandRockError(message, code);
  throw new RockException(message, code);
}

// Strict checks, as pydantic v2 does them for the SDK's models.
function str(value: unknown, field: string, optional = true): void {
  if (value === undefined && optional) return;
  if (typeof value !== 'string')
    throw new ModelValidationError(`${field}: must be a string, got ${JSON.stringify(value)}`);
}
function strOrNull(value: unknown, field: string): void {
  if (value === null || value === undefined) return;
  str(value, field);
}
function numOrNull(value: unknown, field: string): void {
  if (value === null || value === undefined) return;
  if (typeof value !== 'number') throw new ModelValidationError(`${field}: must be a number`);
}

/** SandboxResponse: the code must be one of the four, or null. */
export function parseSandboxResponse(result: unknown): Json {
  if (result === null || result === undefined) return {};
  const r = result as Json;
  if (r.code !== null && r.code !== undefined && !VALID_CODES.has(Number(r.code))) {
    throw new ModelValidationError(`code: ${r.code} is not one of ${[...VALID_CODES].join(', ')}`);
  }
  numOrNull(r.exit_code, 'exit_code');
  strOrNull(r.failure_reason, 'failure_reason');
  return r;
}

/** SandboxStatusResponse (rock/actions/sandbox/response.py). */
export function parseStatus(result: unknown): Json {
  if (typeof result !== 'object' || result === null)
    throw new ModelValidationError('status result must be an object');
  const r = result as Json;
  if ('sandbox_id' in r) str(r.sandbox_id, 'sandbox_id');
  if (
    r.status !== null &&
    r.status !== undefined &&
    (typeof r.status !== 'object' || Array.isArray(r.status))
  ) {
    throw new ModelValidationError('status: must be a dict');
  }
  for (const f of [
    'host_name',
    'host_ip',
    'image',
    'user_id',
    'experiment_id',
    'namespace',
    'memory',
    'disk',
    'disk_limit_rootfs',
    'accelerator_type',
  ]) {
    strOrNull(r[f], f);
  }
  for (const f of [
    'start_time',
    'stop_time',
    'create_time',
    'archive_time',
    'delete_time',
    'auto_stop_time',
    'auto_archive_time',
    'auto_delete_time',
  ]) {
    strOrNull(r[f], f);
  }
  numOrNull(r.cpus, 'cpus');
  if (r.state !== null && r.state !== undefined && !STATES.has(r.state)) {
    throw new ModelValidationError(`state: ${JSON.stringify(r.state)} is not a State`);
  }
  if (r.is_alive !== undefined && typeof r.is_alive !== 'boolean')
    throw new ModelValidationError('is_alive: bool');
  for (const entry of (r.state_history ?? []) as Json[]) {
    for (const f of ['from_state', 'to_state', 'event', 'timestamp'])
      str(entry[f], `state_history.${f}`, false);
  }
  return { is_alive: true, ...r };
}

/** Observation: output, failure_reason and expect_string are strings when present. */
export function parseObservation(result: unknown): Observation {
  if (typeof result !== 'object' || result === null)
    throw new ModelValidationError('observation must be an object');
  const r = result as Json;
  str(r.output, 'output');
  str(r.failure_reason, 'failure_reason');
  str(r.expect_string, 'expect_string');
  numOrNull(r.exit_code, 'exit_code');
  if (r.session_type !== undefined && r.session_type !== 'bash')
    throw new ModelValidationError('session_type');
  return {
    session_type: 'bash',
    output: '',
    failure_reason: '',
    expect_string: '',
    exit_code: null,
    ...r,
  };
}

function parseDict(result: unknown, what: string): Json {
  if (typeof result !== 'object' || result === null || Array.isArray(result)) {
    throw new ModelValidationError(`${what}: result must be a dict`);
  }
  return result;
}

export class RockSandbox {
  readonly config: SandboxConfig;
  sandboxId: string | null;
  hostName: string | null = null;
  hostIp: string | null = null;
  private readonly url: string;

  constructor(config: Partial<SandboxConfig> & { baseUrl: string }) {
    this.config = { ...DEFAULT_CONFIG, ...config };
    this.sandboxId = this.config.sandboxId;
    this.url = `${this.config.baseUrl}/apis/envs/sandbox/v1`;
  }

  private headers(): Record<string, string> {
    const headers: Record<string, string> = {
      'X-Cluster': this.config.cluster,
      ...this.config.extraHeaders,
    };
    if (this.config.userId) headers['X-User-Id'] = this.config.userId;
    if (this.config.experimentId) headers['X-Experiment-Id'] = this.config.experimentId;
    if (this.config.namespace) headers['X-Namespace'] = this.config.namespace;
    return headers;
  }

  /** HttpUtils.post/get: raise_for_status, then response.json(). */
  async request(
    method: 'GET' | 'POST',
    route: string,
    body?: Json,
    signal?: AbortSignal,
  ): Promise<Json> {
    const res = await fetch(`${this.url}/${route}`, {
      method,
      headers: { ...this.headers(), ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      redirect: 'manual',
      signal,
    });
    const text = await res.text();
    if (res.status < 200 || res.status >= 300) throw new HttpStatusError(res.status);
    return JSON.parse(text) as Json;
  }

  async start(): Promise<void> {
    const c = this.config;
    const minutes = Math.ceil(c.autoClearSeconds / 60);
    const body = {
      image: c.image,
      image_os: 'linux',
      auto_clear_time: minutes,
      auto_clear_time_minutes: minutes,
      startup_timeout: c.startupTimeout,
      memory: c.memory,
      cpus: c.cpus,
      num_gpus: null,
      accelerator_type: null,
      registry_username: null,
      registry_password: null,
      use_kata_runtime: c.useKataRuntime,
      limit_cpus: null,
      sandbox_id: c.sandboxId,
      auto_archive_seconds: c.autoArchiveSeconds,
      auto_delete_seconds: c.autoDeleteSeconds,
      disk: c.disk,
    };
    let response: Json;
    try {
      response = await this.request('POST', 'start_async', body);
    } catch (error) {
      throw new Error(`Failed to start standbox: ${String(error)}`);
    }
    if (response.status !== 'Success') {
      const result = parseSandboxResponse(response.result);
      raiseForCode(result.code, `Failed to start sandbox: ${JSON.stringify(response)}`);
      throw new Error(`Failed to start sandbox: ${JSON.stringify(response)}`);
    }
    this.sandboxId = response.result.sandbox_id;
    this.hostName = response.result.host_name;
    this.hostIp = response.result.host_ip;
    await this.waitAlive(false);
  }

  /** The loop after start_async and restart: immediate first poll, then every 3 s. */
  private async waitAlive(includeAllStates: boolean): Promise<void> {
    const t0 = Date.now();
    while (Date.now() - t0 < this.config.startupTimeout * 1000) {
      const status = await this.getStatus(includeAllStates);
      if (status.is_alive) return;
      for (const [stage, details] of Object.entries(status.status as Json)) {
        const phase = (details as Json).status;
        if (phase === 'failed' || phase === 'timeout') {
          throw new InternalServerRockError(
            `Failed to start sandbox because ${stage}: ${(details as Json).message}`,
            CODES.INTERNAL_SERVER_ERROR,
          );
        }
      }
      await sleep(3000);
    }
    throw new InternalServerRockError(
      `Failed to start sandbox within ${this.config.startupTimeout}s`,
      CODES.INTERNAL_SERVER_ERROR,
    );
  }

  async getStatus(includeAllStates = false): Promise<Json> {
    const flag = includeAllStates ? 'True' : 'False';
    const response = await this.request(
      'GET',
      `get_status?sandbox_id=${this.sandboxId}&include_all_states=${flag}`,
    );
    if (response.status !== 'Success')
      throw new Error(`Failed to get status: ${JSON.stringify(response)}`);
    return parseStatus(response.result);
  }

  async isAlive(): Promise<{ is_alive: boolean; message: string }> {
    try {
      const status = await this.getStatus();
      if (typeof status.host_name !== 'string')
        throw new ModelValidationError('message: must be a string');
      return { is_alive: status.is_alive, message: status.host_name };
    } catch (error) {
      throw new Error(`Failed to get is alive: ${String(error)}`);
    }
  }

  async execute(
    command: string | string[],
    options: { timeout?: number; cwd?: string; env?: Record<string, string> } = {},
  ) {
    const response = await this.request('POST', 'execute', {
      command,
      sandbox_id: this.sandboxId,
      timeout: options.timeout ?? 1200,
      cwd: options.cwd ?? null,
      env: options.env ?? null,
    });
    if (response.status !== 'Success')
      throw new Error(`Failed to execute command ${JSON.stringify(response)}`);
    const r = parseDict(response.result, 'CommandResponse');
    str(r.stdout, 'stdout');
    str(r.stderr, 'stderr');
    numOrNull(r.exit_code, 'exit_code');
    return { stdout: '', stderr: '', exit_code: null, ...r } as {
      stdout: string;
      stderr: string;
      exit_code: number | null;
    };
  }

  async createSession(
    options: {
      session?: string;
      env?: Record<string, string> | null;
      envEnable?: boolean;
      startupSource?: string[];
      remoteUser?: string | null;
    } = {},
  ) {
    const response = await this.request('POST', 'create_session', {
      sandbox_id: this.sandboxId,
      session_type: 'bash',
      session: options.session ?? 'default',
      startup_source: options.startupSource ?? [],
      env_enable: options.envEnable ?? false,
      env: options.env ?? null,
      remote_user: options.remoteUser ?? null,
    });
    if (response.status !== 'Success')
      throw new Error(`Failed to execute command: ${JSON.stringify(response)}`);
    const r = parseDict(response.result, 'CreateBashSessionResponse');
    str(r.output, 'output');
    return { output: '', session_type: 'bash', ...r };
  }

  /** The deprecated run_in_session(Action): one POST, Observation or a plain exception. */
  async runInSession(
    action: { command: string; session?: string; check?: string; timeout?: number | null },
    signal?: AbortSignal,
  ): Promise<Observation> {
    const response = await this.request(
      'POST',
      'run_in_session',
      {
        action_type: 'bash',
        session: action.session ?? 'default',
        command: action.command,
        sandbox_id: this.sandboxId,
        check: action.check ?? 'raise',
        timeout: action.timeout ?? null,
      },
      signal,
    );
    if (response.status !== 'Success')
      throw new Error(`Failed to execute command: ${JSON.stringify(response)}`);
    return parseObservation(response.result);
  }

  async closeSession(session = 'default') {
    const response = await this.request('POST', 'close_session', {
      sandbox_id: this.sandboxId,
      session_type: 'bash',
      session,
    });
    if (response.status !== 'Success')
      throw new Error(`Failed to close session: ${JSON.stringify(response)}`);
    return parseDict(response.result, 'CloseBashSessionResponse');
  }

  /** arun: normal mode (one run_in_session, raises on failure) and nohup mode (never raises). */
  async arun(
    cmd: string,
    options: {
      session?: string;
      mode?: 'normal' | 'nohup';
      waitTimeout?: number;
      waitInterval?: number;
      responseLimitedBytesInNohup?: number;
      ignoreOutput?: boolean;
      outputFile?: string;
    } = {},
  ): Promise<Observation> {
    const mode = options.mode ?? 'normal';
    if (mode === 'normal') {
      const session = options.session ?? (await this.tmpSession());
      return this.runInSession({ command: cmd, session });
    }
    try {
      const session = options.session ?? (await this.tmpSession());
      const tmpFile = options.outputFile ?? `/tmp/tmp_${process.hrtime.bigint()}.out`;
      const submitted = await this.runInSession({
        command: `nohup ${cmd} < /dev/null > ${tmpFile} 2>&1 & echo PIDSTART\${!}PIDEND;disown`,
        session,
        timeout: 30,
      });
      if (submitted.exit_code !== 0) return submitted;
      const match = /PIDSTART([0-9]+)/.exec(submitted.output);
      if (!match) {
        const reason = 'Failed to submit command, nohup failed to extract PID';
        return { ...submitted, exit_code: 1, output: reason, failure_reason: reason };
      }
      const [finished, message] = await this.waitForProcess(
        match[1],
        session,
        options.waitTimeout ?? 300,
        options.waitInterval ?? 10,
      );
      if (!finished)
        return {
          session_type: 'bash',
          output: message,
          exit_code: 1,
          failure_reason: message,
          expect_string: '',
        };
      const read = options.responseLimitedBytesInNohup
        ? `head -c ${options.responseLimitedBytesInNohup} ${tmpFile}`
        : `cat ${tmpFile}`;
      try {
        const out = await this.runInSession({ command: read, session });
        return { ...out, exit_code: 0 };
      } catch (error) {
        return {
          session_type: 'bash',
          output: '',
          exit_code: 1,
          failure_reason: String(error),
          expect_string: '',
        };
      }
    } catch (error) {
      const reason = `Failed to execute nohup command '${cmd}': ${String(error)}`;
      return {
        session_type: 'bash',
        output: reason,
        exit_code: 1,
        failure_reason: reason,
        expect_string: '',
      };
    }
  }

  private async tmpSession(): Promise<string> {
    const name = `bash-${process.hrtime.bigint()}`;
    await this.createSession({ session: name });
    return name;
  }

  /** wait_for_process_completion: alive while kill -0 answers normally; any exception = done. */
  private async waitForProcess(
    pid: string,
    session: string,
    waitTimeout: number,
    waitIntervalIn: number,
  ): Promise<[boolean, string]> {
    const waitInterval = Math.min(this.config.autoClearSeconds - 2, Math.max(5, waitIntervalIn));
    const checkTimeout = Math.min(2 * waitInterval, waitTimeout);
    const start = Date.now();
    let timeouts = 0;
    while (Date.now() - start < waitTimeout * 1000) {
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(new Error('TimeoutError')), checkTimeout * 1000);
      try {
        await this.runInSession(
          { command: `kill -0 ${pid}`, session, check: 'raise', timeout: null },
          abort.signal,
        );
        timeouts = 0;
      } catch {
        if (abort.signal.aborted) {
          timeouts += 1;
          if (timeouts >= 3) return [false, 'Process check failed with 3 consecutive timeouts'];
          continue;
        }
        return [true, `Process completed successfully in ${(Date.now() - start) / 1000}s`];
      } finally {
        clearTimeout(timer);
      }
      await sleep(waitInterval * 1000);
    }
    return [false, `Process ${pid} did not complete within ${waitTimeout}s`];
  }

  async writeFile(path: string, content: string): Promise<{ success: boolean; message: string }> {
    const response = await this.request('POST', 'write_file', {
      content,
      path,
      sandbox_id: this.sandboxId,
    });
    if (response.status !== 'Success')
      return {
        success: false,
        message: `Failed to write file ${path}: ${JSON.stringify(response)}`,
      };
    return { success: true, message: `Successfully write content to file ${path}` };
  }

  /** Like the SDK: the status is not checked, result.content is read (TypeError on null). */
  async readFile(
    path: string,
    encoding: string | null = null,
    errors: string | null = null,
  ): Promise<{ content: string }> {
    const response = await this.request('POST', 'read_file', {
      path,
      encoding,
      errors,
      sandbox_id: this.sandboxId,
    });
    const result = response.result as Json | null;
    if (result === null) throw new TypeError("'NoneType' object is not subscriptable");
    if (!('content' in result)) throw new Error("KeyError: 'content'");
    str(result.content, 'content', false);
    return { content: result.content };
  }

  /** upload_by_path: multipart target_path, sandbox_id, file; then the get_token probe. */
  async uploadByPath(
    filePath: string,
    targetPath: string,
  ): Promise<{ success: boolean; message: string }> {
    let data: Buffer;
    try {
      data = await readFile(filePath);
    } catch {
      return { success: false, message: `File not found: ${filePath}` };
    }
    const form = new FormData();
    form.append('target_path', targetPath);
    form.append('sandbox_id', String(this.sandboxId));
    form.append(
      'file',
      new Blob([new Uint8Array(data)], { type: 'application/octet-stream' }),
      basename(filePath),
    );
    const res = await fetch(`${this.url}/upload`, {
      method: 'POST',
      headers: this.headers(),
      body: form,
    });
    if (res.status < 200 || res.status >= 300) throw new HttpStatusError(res.status);
    const response = (await res.json()) as Json;
    if (response.status !== 'Success')
      return { success: false, message: `Failed to upload file: ${JSON.stringify(response)}` };
    await this.getToken().catch(() => undefined);
    return {
      success: true,
      message: `Successfully uploaded file ${basename(filePath)} to ${targetPath}`,
    };
  }

  /** OSS probe: any failure only means "no OSS". */
  async getToken(): Promise<Json | null> {
    const response = await this.request('GET', 'get_token?account=primary');
    if (response.status !== 'Success') return null;
    return response.result as Json;
  }

  async stop(): Promise<void> {
    if (!this.sandboxId) return;
    try {
      await this.request('POST', 'stop', { sandbox_id: this.sandboxId });
    } catch {
      // the SDK only logs a warning
    }
  }

  async restart(): Promise<void> {
    if (!this.sandboxId) throw new Error('sandbox_id is not set');
    const response = await this.request('POST', 'restart', { sandbox_id: this.sandboxId });
    if (response.status !== 'Success') {
      const result = parseSandboxResponse(response.result);
      raiseForCode(result.code, `Failed to restart sandbox: ${JSON.stringify(response)}`);
      throw new Error(`Failed to restart sandbox: ${JSON.stringify(response)}`);
    }
    await this.waitAlive(true);
  }

  async delete(): Promise<void> {
    const response = await this.request('POST', 'delete', { sandbox_id: this.sandboxId });
    if (response.status !== 'Success') {
      const result = parseSandboxResponse(response.result);
      raiseForCode(result.code, `Failed to delete sandbox: ${JSON.stringify(response)}`);
      throw new Error(`Failed to delete sandbox: ${JSON.stringify(response)}`);
    }
  }

  async attach(sandboxId: string): Promise<void> {
    this.sandboxId = sandboxId;
    let status: Json;
    try {
      status = await this.getStatus(true);
    } catch (error) {
      throw new Error(`Failed to attach ${sandboxId}: ${String(error)}`);
    }
    if (status.sandbox_id !== sandboxId) throw new Error('sandbox_id mismatch');
    this.hostName = status.host_name;
    this.hostIp = status.host_ip;
  }
}
