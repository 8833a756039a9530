/**
 * SQL shared by the lifecycle migration, the entity and the deadline queries. A planner uses a
 * partial index only when the query's WHERE implies the index's predicate, and SQLite proves that
 * by matching terms literally, so index and query use these exact strings. `false` is a boolean
 * literal in PostgreSQL and an alias of 0 in SQLite (3.23+), so one spelling serves both drivers.
 */

/** Stopped, unprotected sandboxes with a delete deadline: the due-delete scan's candidates. */
export const DUE_DELETE_WHERE = `"state" = 'stopped' AND "protected" = false AND "auto_delete_at" IS NOT NULL`;

/** Sandboxes with a stop deadline (few: only live ones carry it). */
export const AUTO_STOP_WHERE = `"auto_stop_at" IS NOT NULL`;

/** The live-name rule: a name is taken while its sandbox is not deleted. */
export const LIVE_NAME_WHERE = `"state" <> 'deleted' AND "name" IS NOT NULL`;
