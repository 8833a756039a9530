import type { EntityManager, ObjectLiteral, SelectQueryBuilder } from 'typeorm';

/**
 * A SELECT whose SQL TypeORM writes once (the driver's quoting and placeholders, `$1` or `?`), so
 * that each run only binds values. On the hot read paths building the SQL from a query builder and
 * hydrating entities cost more than the query itself.
 *
 * `build` receives one marker value per parameter name and must pass it as that parameter; the
 * markers tell which placeholder is which in the compiled SQL, whatever order TypeORM emits them in.
 */
export class CompiledQuery<P extends string> {
  private readonly sql: string;
  private readonly order: readonly P[];

  constructor(
    build: (markers: Readonly<Record<P, string>>) => SelectQueryBuilder<ObjectLiteral>,
    names: readonly P[],
  ) {
    const markers = Object.fromEntries(
      names.map((name, i) => [name, `\u0000compiled-query-parameter-${i}\u0000`]),
    ) as Record<P, string>;
    const [sql, values] = build(markers).getQueryAndParameters();
    this.order = values.map((value: unknown) => {
      const name = names.find((n) => markers[n] === value);
      if (name === undefined) throw new Error(`CompiledQuery: a parameter is no marker: ${sql}`);
      return name;
    });
    this.sql = sql;
  }

  /** The raw rows (column aliases as keys, values as the driver returns them). */
  run<R extends ObjectLiteral>(
    manager: EntityManager,
    params: Readonly<Record<P, unknown>>,
  ): Promise<R[]> {
    return manager.query<R[]>(
      this.sql,
      this.order.map((name) => params[name]),
    );
  }
}
