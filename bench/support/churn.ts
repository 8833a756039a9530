import type Dockerode from 'dockerode';
import { DEMO_IMAGE } from '../../test/support/docker';
import type { DirectSandboxes, SandboxRequest } from './direct';
import { directExec } from './exec';
import { SandboxAnswer, callApi, errorCodeOf } from './http';
import type { Deadline } from './run';

/** What one rollout cycle is made of: create (running), EXECS_PER_CYCLE commands, delete. */
export const EXECS_PER_CYCLE = 5;
const ECHO = ['echo', 'rollout'];
const ECHOED = 'rollout\n';
const ERROR_PAUSE_MS = 100;

/** Small limits, so that a churn of 16 (and 500 live ones beside it) fit a 2-core host. */
export const CHURN_SANDBOX: SandboxRequest = {
  image: DEMO_IMAGE,
  cpus: 0.1,
  memory: '32m',
  ports: [],
};

/** How long each phase of one finished cycle took, in milliseconds. */
export interface CycleTimes {
  createMs: number;
  execMs: number[];
  deleteMs: number;
}

/** One side of the comparison: runs a whole cycle, or throws naming what failed. */
export type Cycle = () => Promise<CycleTimes>;

/** The cycles a window finished, and the failures by code. */
export interface WindowResult {
  cycles: CycleTimes[];
  errors: Record<string, number>;
  /** The window itself (`seconds`), without the wait for the cycles still in flight at its end. */
  windowMs: number;
  /**
   * The cycles' work inside the window: each finished cycle counts the share of its time that
   * fell before the window's end (1 for most, a fraction for those in flight at the end).
   */
  work: number;
}

/** A failed step of a cycle, with a stable code to count it by. */
export class CycleError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The cycle through the API: POST ?wait=true, 5 × POST …/exec (output checked), DELETE. */
export function apiCycle(url: string): Cycle {
  return async () => {
    const created = await callApi<SandboxAnswer>(url, 'POST', '/v1/sandboxes?wait=true', {
      image: CHURN_SANDBOX.image,
      cpus: CHURN_SANDBOX.cpus,
      memory: CHURN_SANDBOX.memory,
    });
    const id = (created.body as SandboxAnswer | null)?.id;
    if (created.status !== 200 || (created.body as SandboxAnswer).state !== 'running') {
      if (typeof id === 'string') await callApi(url, 'DELETE', `/v1/sandboxes/${id}?force=true`);
      throw new CycleError(
        `create:${errorCodeOf(created.body) ?? created.status}`,
        `create answered ${created.status}`,
      );
    }
    // Deleted whatever happened to the execs, so a failed cycle leaves nothing behind.
    const execs = await settled(async () => {
      const execMs: number[] = [];
      for (let i = 0; i < EXECS_PER_CYCLE; i += 1) {
        const answer = await callApi<{ exitCode: number; stdout: string }>(
          url,
          'POST',
          `/v1/sandboxes/${id}/exec`,
          { command: ECHO },
        );
        const body = answer.body as { exitCode?: number; stdout?: string } | null;
        if (answer.status !== 200 || body?.exitCode !== 0 || body.stdout !== ECHOED) {
          throw new CycleError(
            `exec:${errorCodeOf(answer.body) ?? answer.status}`,
            `exec answered ${answer.status}`,
          );
        }
        execMs.push(answer.ms);
      }
      return execMs;
    });
    const deleted = await callApi(url, 'DELETE', `/v1/sandboxes/${id}?force=true`);
    if (!execs.ok) throw execs.error;
    if (deleted.status !== 204) {
      throw new CycleError(
        `delete:${errorCodeOf(deleted.body) ?? deleted.status}`,
        `delete answered ${deleted.status}`,
      );
    }
    return { createMs: created.ms, execMs: execs.value, deleteMs: deleted.ms };
  };
}

/**
 * The same cycle with plain dockerode: the container the service would build (DirectSandboxes),
 * the same 5 execs the way any Docker client runs them (directExec), then rm -f -v.
 */
export function directCycle(direct: DirectSandboxes, docker: Dockerode): Cycle {
  return async () => {
    const id = direct.newId();
    const createStarted = performance.now();
    const containerId = await direct.createAndStart(id, CHURN_SANDBOX, []);
    const createMs = performance.now() - createStarted;
    const execs = await settled(async () => {
      const execMs: number[] = [];
      for (let i = 0; i < EXECS_PER_CYCLE; i += 1) {
        const run = await directExec(docker, containerId, ECHO);
        if (run.exitCode !== 0 || run.stdout !== ECHOED) {
          throw new CycleError('exec:output', `direct exec exited ${run.exitCode}`);
        }
        execMs.push(run.ms);
      }
      return execMs;
    });
    const deleteStarted = performance.now();
    await direct.remove(containerId, id);
    const deleteMs = performance.now() - deleteStarted;
    if (!execs.ok) throw execs.error;
    return { createMs, execMs: execs.value, deleteMs };
  };
}

/** The outcome of `work` as a value, so a cleanup can run before its failure is rethrown. */
async function settled<T>(
  work: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    return { ok: false, error };
  }
}

/**
 * `concurrency` workers each running cycles back to back for `seconds`: no new cycle starts after
 * the end, and those in flight are awaited. `cycles` are whole cycles; `work` counts those in
 * flight at the end only for their share before it, so a rate over `windowMs` is not swayed by
 * how long the last cycles happened to run on (with cycles of ~7 s, that wait was up to half of
 * a short window's wall time).
 */
export async function runWindow(
  cycle: Cycle,
  concurrency: number,
  seconds: number,
  deadline: Deadline,
): Promise<WindowResult> {
  const started = performance.now();
  const endsAt = started + seconds * 1000;
  const cycles: CycleTimes[] = [];
  const errors: Record<string, number> = {};
  let work = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < endsAt) {
      deadline.check('churn');
      const cycleStarted = performance.now();
      try {
        cycles.push(await cycle());
        const ended = performance.now();
        work += (Math.min(ended, endsAt) - cycleStarted) / Math.max(ended - cycleStarted, 1e-3);
      } catch (error) {
        const code = error instanceof CycleError ? error.code : `error:${String(error)}`;
        errors[code] = (errors[code] ?? 0) + 1;
        // A refused cycle costs a round trip only: a short pause keeps a refusal from spinning.
        await new Promise((resolve) => setTimeout(resolve, ERROR_PAUSE_MS));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { cycles, errors, windowMs: seconds * 1000, work };
}

/** Cycles per minute over a set of windows: their work inside the windows per window time. */
export function cyclesPerMinute(windows: readonly WindowResult[]): number {
  const work = windows.reduce((sum, w) => sum + w.work, 0);
  const ms = windows.reduce((sum, w) => sum + w.windowMs, 0);
  return ms > 0 ? (work / ms) * 60_000 : 0;
}

/** Error counts of several windows added up. */
export function errorsOf(windows: readonly WindowResult[]): Record<string, number> {
  const total: Record<string, number> = {};
  for (const w of windows) {
    for (const [code, n] of Object.entries(w.errors)) total[code] = (total[code] ?? 0) + n;
  }
  return total;
}
