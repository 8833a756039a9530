import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Rows read and rewritten per round trip: bounded memory on a table of any size. */
const PAGE = 500;

/**
 * The fields later releases added to the info blob, with what a row of an older release meant by
 * their absence: no deadlines and no protection (AddLifecycleDeadlines), no pids or disk limit,
 * Docker's default runtime and no log-directory quota attempted (AddResourceColumns), a cold create
 * (the warm pool). A stored value, null included, is kept.
 */
const INFO_FIELDS: Readonly<Record<string, unknown>> = {
  autoStopAt: null,
  autoDeleteAt: null,
  protected: false,
  maxLifetimeSeconds: null,
  lastActivityAt: null,
  pidsLimit: null,
  runtime: 'runc',
  disk: null,
  logDirQuota: null,
  fromPool: false,
};

/**
 * The same for the spec blob. Unlike info, a stored null also becomes the value: the spec is only
 * read back whole, and no release wrote null for a field whose value here is not null.
 */
const SPEC_FIELDS: Readonly<Record<string, unknown>> = {
  maxLifetimeSeconds: null,
  pidsLimit: null,
  diskBytes: null,
  disk: null,
  runtime: 'runc',
};

export type Blob = Record<string, unknown>;

/**
 * Writes into every row's `info` and `spec` JSON the fields that earlier migrations added as
 * columns but never wrote into the blobs, so that every stored blob is complete and the read path
 * checks it against the schema instead of carrying defaults for older rows. Also completes the
 * machine snapshot's context with the keys the machine added since (`logDirQuota`, and
 * `protected`, taken from the row's info). Rows are rewritten one by one through parameters (no
 * JSON functions), so the one code path serves PostgreSQL and SQLite; a row that is not JSON is
 * left as it is (it reads as RECORD_CORRUPT). `down` is a no-op: the added keys are what this
 * release's code writes anyway, and older code ignores keys it does not know.
 */
export class BackfillStoredBlobs1796200000000 implements MigrationInterface {
  name = 'BackfillStoredBlobs1796200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const p = placeholders(queryRunner);
    let after = '';
    for (;;) {
      const rows = (await queryRunner.query(
        `SELECT "id", "info", "spec", "machine_snapshot" FROM "sandbox_table" WHERE "id" > ${p(1)} ORDER BY "id" LIMIT ${PAGE}`,
        [after],
      )) as { id: string; info: unknown; spec: unknown; machine_snapshot: unknown }[];
      for (const row of rows) {
        const info = parseBlob(row.info);
        const spec = parseBlob(row.spec);
        const snapshot = parseBlob(row.machine_snapshot);
        const changed = [
          info !== null && fillInfo(info),
          spec !== null && fillSpec(spec),
          snapshot !== null && info !== null && fillSnapshot(snapshot, info),
        ];
        if (!changed.some(Boolean)) continue;
        await queryRunner.query(
          `UPDATE "sandbox_table" SET "info" = ${p(1)}, "spec" = ${p(2)}, "machine_snapshot" = ${p(3)} WHERE "id" = ${p(4)}`,
          [
            info === null ? row.info : JSON.stringify(info),
            spec === null ? row.spec : JSON.stringify(spec),
            snapshot === null ? row.machine_snapshot : JSON.stringify(snapshot),
            row.id,
          ],
        );
      }
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1].id;
    }
  }

  async down(): Promise<void> {
    // Nothing to undo: see the class comment.
  }
}

/** A JSON object column's value as an object, or null when it is no JSON object. */
export function parseBlob(raw: unknown): Blob | null {
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      return null;
    }
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Blob)
    : null;
}

function fillInfo(info: Blob): boolean {
  let changed = false;
  for (const [key, value] of Object.entries(INFO_FIELDS)) {
    if (info[key] === undefined) {
      info[key] = value;
      changed = true;
    }
  }
  return changed;
}

function fillSpec(spec: Blob): boolean {
  let changed = false;
  for (const [key, value] of Object.entries(SPEC_FIELDS)) {
    if (spec[key] === undefined || (spec[key] === null && value !== null)) {
      spec[key] = value;
      changed = true;
    }
  }
  return changed;
}

function fillSnapshot(snapshot: Blob, info: Blob): boolean {
  const context = parseBlob(snapshot.context);
  if (context === null) return false;
  let changed = false;
  if (context.logDirQuota === undefined) {
    context.logDirQuota = null;
    changed = true;
  }
  if (typeof context.protected !== 'boolean') {
    context.protected = info.protected === true;
    changed = true;
  }
  if (changed) snapshot.context = context;
  return changed;
}

/** The drivers this migration was written and tested for; any other fails loudly. */
export function placeholders(queryRunner: QueryRunner): (n: number) => string {
  const type = queryRunner.connection.options.type;
  if (type === 'postgres') return (n) => `$${n}`;
  if (type === 'better-sqlite3') return () => '?';
  throw new Error(`BackfillStoredBlobs: not written for the ${type} driver`);
}
