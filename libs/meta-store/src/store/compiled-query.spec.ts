import type { EntityManager, ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { CompiledQuery } from './compiled-query';

/** A query builder that compiles to `sql` with its parameters in the order given by `emit`. */
function fakeBuilder(
  sql: string,
  emit: (params: Record<string, string>) => unknown[],
): (markers: Record<string, string>) => SelectQueryBuilder<ObjectLiteral> {
  return (markers) =>
    ({
      getQueryAndParameters: () => [sql, emit(markers)],
    }) as unknown as SelectQueryBuilder<ObjectLiteral>;
}

function fakeManager(rows: ObjectLiteral[]) {
  const calls: { sql: string; values: unknown[] }[] = [];
  const manager = {
    query: (sql: string, values: unknown[]) => {
      calls.push({ sql, values });
      return Promise.resolve(rows);
    },
  } as unknown as EntityManager;
  return { manager, calls };
}

describe('CompiledQuery', () => {
  it('compiles once and binds each run in the order of the compiled placeholders', async () => {
    let builds = 0;
    const query = new CompiledQuery(
      (markers) => {
        builds += 1;
        // TypeORM may emit the parameters in another order than they were named.
        return fakeBuilder('SELECT ? ?', (m) => [m.b, m.a])(markers);
      },
      ['a', 'b'],
    );
    const { manager, calls } = fakeManager([{ info: '{}' }]);
    expect(await query.run(manager, { a: 1, b: 2 })).toEqual([{ info: '{}' }]);
    await query.run(manager, { a: 'x', b: 'y' });
    expect(builds).toBe(1);
    expect(calls).toEqual([
      { sql: 'SELECT ? ?', values: [2, 1] },
      { sql: 'SELECT ? ?', values: ['y', 'x'] },
    ]);
  });

  it('binds a parameter used twice twice', async () => {
    const query = new CompiledQuery(
      fakeBuilder('SELECT $1, $2', (m) => [m.id, m.id]),
      ['id'],
    );
    const { manager, calls } = fakeManager([]);
    await query.run(manager, { id: 'sbx-1' });
    expect(calls[0].values).toEqual(['sbx-1', 'sbx-1']);
  });

  it('refuses a builder that binds a value it was not given as a marker', () => {
    expect(
      () =>
        new CompiledQuery(
          fakeBuilder('SELECT ?, ?', (m) => [m.id, 'deleted']),
          ['id'],
        ),
    ).toThrow(/no marker/);
  });
});
