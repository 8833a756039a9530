import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';

export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://sandboxd:sandboxd@127.0.0.1:5432/sandboxd_test';

/**
 * Drops a scratch database. A plain DROP first: PostgreSQL stops autovacuum workers on the database
 * by itself (bulk inserts wake them), whereas FORCE would fail on them, since it may only
 * terminate sessions of our own role. FORCE (PostgreSQL 13+) is the fallback for our own sessions
 * that an interrupted run left open. Retried briefly, as a worker may just be starting.
 */
export async function dropDatabase(admin: Client, name: string): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${name}`);
      return;
    } catch (plainError) {
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        return;
      } catch {
        if (attempt >= 5) throw plainError;
        await sleep(1_000);
      }
    }
  }
}

/**
 * A fresh, empty PostgreSQL database for one test suite, so suites never see each other's
 * sandboxes (which would otherwise count against capacity or show up in lists).
 */
export async function createScratchDatabase(
  label: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `sandboxd_${label}_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      try {
        await dropDatabase(client, name);
      } finally {
        await client.end();
      }
    },
  };
}
