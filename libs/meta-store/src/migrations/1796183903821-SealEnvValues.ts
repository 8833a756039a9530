import type { MigrationInterface, QueryRunner } from 'typeorm';
import { isSealedValue } from '../secrets/secrets-keyring';
import type { SecretsKeyring } from '../secrets/secrets-keyring';

/** Rows read and rewritten per round trip: bounded memory on a table of any size. */
const PAGE = 500;

/** What a migration class looks like to TypeORM: it constructs each one itself, without arguments. */
export type MigrationClass = new () => MigrationInterface;

/**
 * Env values at rest: until now each sandbox's `spec.env` held them in clear, and kept them after
 * delete. This migration moves them to `spec.sealedEnv`, each sealed with the configured key
 * (AES-256-GCM, bound to its sandbox and name); a deleted sandbox's values are dropped instead.
 * It also keys the stored idempotency fingerprints (an HMAC of the old SHA-256, which is what the
 * store now compares), since a bare hash of a request confirms a guess of its env values.
 *
 * TypeORM constructs migrations without arguments, and this one needs the key: it is made by a
 * factory, at start-up, with the keyring the service was configured with, and runs in the same
 * transaction as the rest of the batch. Rows are rewritten one by one through parameters (no JSON
 * functions), so the one code path serves PostgreSQL and SQLite alike. `down` opens the values
 * back into `env` (the dropped ones of deleted sandboxes are gone for good) and cannot undo the
 * keyed fingerprints, which simply stop replaying (their 24-hour window is short).
 */
export function sealEnvValuesMigration(keyring: SecretsKeyring): MigrationClass {
  return class SealEnvValues1796183903821 implements MigrationInterface {
    name = 'SealEnvValues1796183903821';

    async up(queryRunner: QueryRunner): Promise<void> {
      await rewriteSpecs(queryRunner, (id, state, spec) => {
        if (spec.sealedEnv !== undefined && spec.env === undefined) return null;
        const { env, ...rest } = spec;
        const plain = (env ?? {}) as Record<string, string>;
        const sealed: Record<string, string> = {};
        if (state !== 'deleted') {
          for (const [name, value] of Object.entries(plain)) {
            sealed[name] = isSealedValue(value) ? value : keyring.seal(id, name, value);
          }
        }
        return { ...rest, sealedEnv: sealed };
      });
      const p = placeholders(queryRunner);
      await forEachPage(
        queryRunner,
        `SELECT "key", "fingerprint" FROM "idempotency_key" WHERE "key" > ${p(1)} ORDER BY "key" LIMIT ${PAGE}`,
        'key',
        async (row: { key: string; fingerprint: string }) => {
          await queryRunner.query(
            `UPDATE "idempotency_key" SET "fingerprint" = ${p(1)} WHERE "key" = ${p(2)}`,
            [keyring.fingerprint(row.fingerprint), row.key],
          );
        },
      );
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await rewriteSpecs(queryRunner, (id, _state, spec) => {
        if (spec.sealedEnv === undefined) return null;
        const { sealedEnv, ...rest } = spec;
        return { ...rest, env: keyring.openEnv(id, sealedEnv as Record<string, string>) };
      });
    }
  };
}

type StoredSpec = Record<string, unknown> & { env?: unknown; sealedEnv?: unknown };

/** Applies `change` to every sandbox's spec; a null answer leaves the row as it is. */
async function rewriteSpecs(
  queryRunner: QueryRunner,
  change: (id: string, state: string, spec: StoredSpec) => StoredSpec | null,
): Promise<void> {
  const p = placeholders(queryRunner);
  await forEachPage(
    queryRunner,
    `SELECT "id", "state", "spec" FROM "sandbox_table" WHERE "id" > ${p(1)} ORDER BY "id" LIMIT ${PAGE}`,
    'id',
    async (row: { id: string; state: string; spec: string }) => {
      const next = change(row.id, row.state, JSON.parse(row.spec) as StoredSpec);
      if (next === null) return;
      await queryRunner.query(`UPDATE "sandbox_table" SET "spec" = ${p(1)} WHERE "id" = ${p(2)}`, [
        JSON.stringify(next),
        row.id,
      ]);
    },
  );
}

/** Keyset pages over `sql` (whose one parameter is the last key seen), row by row. */
async function forEachPage<R extends Record<string, string>>(
  queryRunner: QueryRunner,
  sql: string,
  keyColumn: keyof R & string,
  each: (row: R) => Promise<void>,
): Promise<void> {
  let after = '';
  for (;;) {
    const rows = (await queryRunner.query(sql, [after])) as R[];
    for (const row of rows) await each(row);
    if (rows.length < PAGE) return;
    after = rows[rows.length - 1][keyColumn];
  }
}

/** The drivers this migration was written and tested for; any other fails loudly. */
function placeholders(queryRunner: QueryRunner): (n: number) => string {
  const type = queryRunner.connection.options.type;
  if (type === 'postgres') return (n) => `$${n}`;
  if (type === 'better-sqlite3') return () => '?';
  throw new Error(`SealEnvValues: not written for the ${type} driver`);
}
