import { DataSource, EntityManager } from 'typeorm';
import { toStoreError } from '../db/db-errors';

/** Queue tails per SQLite DataSource, so every gate on the same connection shares one queue. */
const queues = new WeakMap<DataSource, Promise<unknown>>();

/**
 * Every database access of the store goes through here, for two reasons:
 *  - errors: connectivity failures become STORE_UNAVAILABLE in one place;
 *  - SQLite: TypeORM's better-sqlite3 driver shares ONE connection, so an open transaction would
 *    swallow any statement issued concurrently (and roll it back with itself). Accesses are
 *    therefore queued one at a time; better-sqlite3 is synchronous, so no throughput is lost.
 *    PostgreSQL uses a pool and runs them concurrently.
 * Never call `run` from inside `run`: on SQLite it would wait for itself.
 */
export class DbGate {
  private readonly serialize: boolean;

  constructor(private readonly dataSource: DataSource) {
    this.serialize = dataSource.options.type !== 'postgres';
  }

  run<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const guarded = async (): Promise<T> => {
      try {
        return await work(this.dataSource.manager);
      } catch (error) {
        throw toStoreError(error);
      }
    };
    if (!this.serialize) return guarded();
    const result = (queues.get(this.dataSource) ?? Promise.resolve()).then(guarded);
    // The queue moves on whether this access succeeded or not.
    queues.set(
      this.dataSource,
      result.catch(() => undefined),
    );
    return result;
  }
}
