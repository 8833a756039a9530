import { freePort } from '../../test/support/server-process';
import { DEMO_IMAGE } from '../../test/support/docker';
import { Backend, backendsFromEnv, benchEnv } from './app';
import { Cleanups, Deadline } from './run';
import { BenchServer } from './server';
import { log } from './stats';
import type { VsNative } from './vs-native';

/** The e2b SDK's ESM build (its CommonJS build requires ESM-only chalk, which require() refuses). */
export async function loadE2b(): Promise<typeof import('e2b')> {
  // A real import(): TypeScript would turn a plain one into require() under CommonJS.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the only way to keep it import()
  const load = new Function('name', 'return import(name)') as (
    name: string,
  ) => Promise<typeof import('e2b')>;
  return load('e2b');
}

/** The SDK options that point both its URLs at one E2B listener (any key: auth is off). */
export interface E2bOptions {
  apiKey: string;
  apiUrl: string;
  sandboxUrl: string;
}

/** One backend's server with its E2B listener on, for a bench to time against native /v1. */
export interface E2bBackend {
  backend: Backend;
  api: BenchServer;
  options: E2bOptions;
  /** Cleanups of this backend's run, done before the next backend starts. */
  scoped: Cleanups;
}

/**
 * For each backend of BENCH_BACKENDS in turn: a built server in its own process (scheduler off,
 * template `base` = the demo image) with its E2B listener on a free port; `measure` times it, then
 * the server and whatever `measure` added to `scoped` go.
 */
export async function perE2bBackend(
  cleanups: Cleanups,
  deadline: Deadline,
  measure: (target: E2bBackend) => Promise<VsNative>,
): Promise<Partial<Record<Backend, VsNative>>> {
  const results: Partial<Record<Backend, VsNative>> = {};
  for (const backend of backendsFromEnv()) {
    deadline.check(backend);
    const scoped = new Cleanups();
    cleanups.add(`${backend} backend`, () => scoped.runAll());
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const environment = await benchEnv(
      backend,
      { SCHEDULER_ENABLED: 'false', E2B_TEMPLATES: `base=${DEMO_IMAGE}`, E2B_PORT: String(port) },
      scoped,
    );
    const api = await BenchServer.start(environment.env, scoped);
    log(`${backend}: server pid ${api.pid}`);
    const options = { apiKey: 'e2b_0123456789abcdef', apiUrl: url, sandboxUrl: url };
    results[backend] = await measure({ backend, api, options, scoped });
    await scoped.runAll();
  }
  return results;
}
