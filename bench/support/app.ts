import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { ConfigSlices } from '@app/config';
import Redis from 'ioredis';
import { Backend, appFromEnv, testEnv } from '../../test/support/app';
import { sweepContainers } from '../../test/support/docker';
import type { Cleanups } from './run';
import { log } from './stats';

export type { Backend };

export interface BenchEnv {
  backend: Backend;
  instanceId: string;
  /** The service environment (scratch database or SQLite file, Redis prefix, instance id). */
  env: Record<string, string>;
}

export interface BenchApp extends BenchEnv {
  app: NestExpressApplication;
  config: ConfigSlices;
  /** http://127.0.0.1:<port> */
  url: string;
}

/**
 * The environment of the integration tests (test/support/app.ts testEnv: own instance id, scratch
 * PostgreSQL database + Redis key prefix, or SQLite in a temporary folder), with its removal
 * registered at once: containers swept by the instance label, the database dropped, the folder
 * removed, and every Redis key under the prefix deleted (testEnv's own cleanup leaves those).
 */
export async function benchEnv(
  backend: Backend,
  overrides: Record<string, string>,
  cleanups: Cleanups,
): Promise<BenchEnv> {
  const made = await testEnv(backend, overrides);
  cleanups.add(`environment ${made.instanceId}`, async () => {
    try {
      const swept = await sweepContainers(made.instanceId);
      if (swept > 0) log(`swept ${swept} container(s) labelled ${made.instanceId}`);
    } finally {
      try {
        await made.cleanup();
      } finally {
        await deleteRedisPrefix(made.env);
      }
    }
  });
  return { backend, instanceId: made.instanceId, env: made.env };
}

/**
 * The whole AppModule in this process, exactly as createTestApp builds it (appFromEnv: production's
 * pipe, filter, body limit; nothing mocked), listening on 127.0.0.1 on a free port.
 */
export async function startInProcessApp(
  backend: Backend,
  overrides: Record<string, string>,
  cleanups: Cleanups,
): Promise<BenchApp> {
  const environment = await benchEnv(backend, overrides, cleanups);
  const { app, config } = await appFromEnv(environment.env);
  cleanups.add(`app ${environment.instanceId}`, () => app.close());
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as AddressInfo;
  return { ...environment, app, config, url: `http://127.0.0.1:${address.port}` };
}

/** Deletes every key under the environment's REDIS_KEY_PREFIX (bounded: at most 1,000 scans). */
export async function deleteRedisPrefix(env: Record<string, string>): Promise<number> {
  const url = env.REDIS_URL;
  const prefix = env.REDIS_KEY_PREFIX;
  if (url === undefined || prefix === undefined || prefix.length < 8) return 0;
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 });
  await redis.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    for (let scans = 0; scans < 1000; scans += 1) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) deleted += await redis.del(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    await redis.quit();
  }
  return deleted;
}

/** BENCH_BACKENDS: comma-separated backends to run (default: both, embedded first). */
export function backendsFromEnv(): Backend[] {
  const all: Backend[] = ['embedded', 'postgres+redis'];
  const raw = process.env.BENCH_BACKENDS;
  if (raw === undefined || raw.trim() === '') return all;
  const picked = raw.split(',').map((name) => name.trim());
  for (const name of picked) {
    if (!all.includes(name as Backend)) throw new Error(`BENCH_BACKENDS: unknown backend ${name}`);
  }
  return all.filter((backend) => picked.includes(backend));
}
