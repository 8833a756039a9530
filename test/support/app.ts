import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Test } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { type ConfigSlices, LOADED_CONFIG, loadConfig } from '@app/config';
import { AppModule } from '../../apps/sandbox-api/src/app.module';
import { configureApp } from '../../apps/sandbox-api/src/configure-app';
import { createScratchDatabase } from './database';
import {
  newTestInstanceId,
  sweepContainers,
  sweepTestNetworks,
  TEST_SANDBOX_NETWORK,
} from './docker';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/15';

export type Backend = 'postgres+redis' | 'embedded';

export interface TestApp {
  app: NestExpressApplication;
  config: ConfigSlices;
  /** The environment the app was built from (to start a second process on the same stores). */
  env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * Environment for one test suite: its own instance id (so its containers can be swept by label),
 * its own Redis key prefix and its own scratch PostgreSQL database (so suites never see each
 * other's sandboxes), or the embedded default (SQLite in a temporary folder + in-process cache).
 * `cleanup` sweeps the containers and removes the database or files.
 */
export async function testEnv(backend: Backend, overrides: Record<string, string> = {}) {
  const instanceId = newTestInstanceId();
  const base: Record<string, string> = {
    INSTANCE_ID: instanceId,
    STOP_TIMEOUT_SECONDS: '2',
    LOCK_WAIT_SECONDS: '60',
    LOG_LEVEL: 'warn',
    SANDBOX_NETWORK: TEST_SANDBOX_NETWORK,
  };
  const dir = mkdtempSync(join(tmpdir(), 'sandboxd-e2e-'));
  base.LOG_ROOT = join(dir, 'logs');
  let dropDatabase = (): Promise<void> => Promise.resolve();
  if (backend === 'postgres+redis') {
    const database = await createScratchDatabase('e2e');
    dropDatabase = database.drop;
    base.DATABASE_URL = database.url;
    base.REDIS_URL = TEST_REDIS_URL;
    base.REDIS_KEY_PREFIX = `sandboxd-test:${randomBytes(4).toString('hex')}:`;
    // Required with PostgreSQL (replicas share it); the embedded default generates its own.
    base.SECRETS_KEY = randomBytes(32).toString('base64');
  } else {
    base.SQLITE_PATH = join(dir, 'sandboxd.sqlite');
  }
  return {
    instanceId,
    env: { ...base, ...overrides },
    cleanup: async () => {
      await sweepContainers(instanceId);
      // Only on the main engine (a second engine's networks go with it).
      if (overrides.DOCKER_SOCKET_PATH === undefined) await sweepTestNetworks();
      await dropDatabase();
      // LOG_ROOT stays a nosuid,nodev,noexec mount of its own after the app closes (as in
      // production, where containers outlive the service); a LOG_ROOT given elsewhere too.
      unmountUnder(dir);
      const logRoot = overrides.LOG_ROOT;
      if (logRoot !== undefined && !logRoot.startsWith(`${dir}/`)) unmountUnder(logRoot);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Lazily unmounts every mount at or below `dir` (deepest first, each one stacked at a path), so
 * the folder can be removed.
 */
export function unmountUnder(dir: string): void {
  const real = existsSync(dir) ? realpathSync(dir) : dir;
  const targets = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter(
      (target): target is string => !!target && (target === real || target.startsWith(`${real}/`)),
    )
    .sort((a, b) => b.length - a.length);
  for (const target of targets) spawnSync('umount', ['-l', target]);
}

/** The whole AppModule with production's pipe, filter and body limit; nothing is mocked. */
export async function createTestApp(
  backend: Backend,
  overrides: Record<string, string> = {},
): Promise<TestApp> {
  const { env, cleanup } = await testEnv(backend, overrides);
  const { app, config } = await appFromEnv(env);
  return {
    app,
    config,
    env,
    close: async () => {
      await app.close();
      await cleanup();
    },
  };
}

/**
 * Another AppModule on an existing test environment (the same stores and instance id), as a
 * restarted service would be. The caller closes it; the environment's owner cleans up.
 */
export async function appFromEnv(
  env: Record<string, string>,
): Promise<{ app: NestExpressApplication; config: ConfigSlices }> {
  const config = loadConfig(env);
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
    .overrideProvider(LOADED_CONFIG)
    .useValue(config)
    .compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({
    bodyParser: false,
    logger: ['error', 'warn'],
  });
  configureApp(app);
  await app.init();
  return { app, config };
}

/** Polls until `check` returns a value (not undefined) or the time is up. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `condition not met in ${timeoutMs} ms${lastError instanceof Error ? `: ${lastError.message}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
