import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';

export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://sandboxd:sandboxd@127.0.0.1:5432/sandboxd_test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/15';

/** A key prefix of its own per test file run, so parallel runs never see each other's keys. */
export function uniquePrefix(label: string): string {
  return `sandboxd-test:${label}:${randomBytes(4).toString('hex')}:`;
}

/** Unique, time-sortable-ish ids for this run (ids order lexically like real ones). */
export function idFactory(label: string): () => string {
  const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  let counter = 0;
  return () => `t-${label}-${run}-${String((counter += 1)).padStart(4, '0')}`;
}

/** Deletes every key under the prefix: FLUSHALL for this run only. */
export async function deleteKeysWithPrefix(prefix: string): Promise<void> {
  const client = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 2 });
  client.on('error', () => undefined);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await client.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await client.quit();
  }
}

export function tempSqlite(): { path: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'meta-store-int-'));
  return {
    path: join(dir, 'sandboxd.sqlite'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The thrown value of a promise that must reject. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject, but it resolved');
}

export { dropDatabase } from '../../support/database';
