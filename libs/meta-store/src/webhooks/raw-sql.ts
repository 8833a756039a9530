import type { EntityManager } from 'typeorm';

/**
 * Runs SQL written with PostgreSQL's `$1, $2, …` placeholders on either driver and answers the
 * rows it returns (those of a RETURNING clause too; none for a plain write). For SQLite the
 * placeholders become `?` (each must appear once, in order). For the webhook worker's few hot
 * statements, where building SQL through TypeORM's query builder would cost more than running
 * it; the drivers cache each prepared statement by its text. The structured result is asked for
 * because TypeORM's plain one differs by driver and command (PostgreSQL answers an UPDATE as
 * `[rows, count]`).
 */
export async function rawQuery<R>(
  manager: EntityManager,
  sql: string,
  params: readonly unknown[],
): Promise<R[]> {
  const postgres = manager.connection.options.type === 'postgres';
  const text = postgres ? sql : sql.replace(/\$\d+/g, '?');
  const own = manager.queryRunner === undefined;
  const runner = manager.queryRunner ?? manager.connection.createQueryRunner();
  try {
    const result = (await runner.query(text, [...params], true)) as { records?: R[] };
    return result.records ?? [];
  } finally {
    if (own) await runner.release();
  }
}

/** `$from, $from+1, …` for an IN (…) list of `count` values. */
export function placeholders(from: number, count: number): string {
  return Array.from({ length: count }, (_, i) => `$${from + i}`).join(', ');
}
