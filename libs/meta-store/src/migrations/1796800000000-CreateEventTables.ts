import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/**
 * The event log (`sandbox_event`, the transactional outbox of lifecycle changes) and the webhooks
 * fed from it: endpoints, deliveries, and the attempts of each delivery. Portable Table API, like
 * the first schema; generated ids are `bigint` identity columns on PostgreSQL and
 * `INTEGER PRIMARY KEY AUTOINCREMENT` on SQLite (never reused once pruned).
 */
export class CreateEventTables1796800000000 implements MigrationInterface {
  name = 'CreateEventTables1796800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // SQLite takes AUTOINCREMENT on an INTEGER PRIMARY KEY only (its integers are 64-bit anyway).
    const sqlite = queryRunner.connection.options.type !== 'postgres';
    const id = {
      name: 'id',
      type: sqlite ? 'integer' : 'bigint',
      isPrimary: true,
      isGenerated: true,
      generationStrategy: 'increment' as const,
    };
    await queryRunner.createTable(
      new Table({
        name: 'sandbox_event',
        columns: [
          id,
          { name: 'type', type: 'varchar', length: '40' },
          { name: 'sandbox_id', type: 'varchar', length: '64' },
          { name: 'tenant', type: 'varchar', length: '128', isNullable: true },
          { name: 'at', type: 'bigint' },
          { name: 'payload', type: 'text' },
        ],
        indices: [
          new TableIndex({ name: 'IDX_sandbox_event_sandbox', columnNames: ['sandbox_id', 'id'] }),
          new TableIndex({ name: 'IDX_sandbox_event_tenant', columnNames: ['tenant', 'id'] }),
          new TableIndex({ name: 'IDX_sandbox_event_at', columnNames: ['at'] }),
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'webhook',
        columns: [
          { name: 'id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'url', type: 'varchar', length: '2048' },
          { name: 'events', type: 'text', isNullable: true },
          { name: 'description', type: 'varchar', length: '512', isNullable: true },
          { name: 'sealed_secret', type: 'text' },
          { name: 'tenant', type: 'varchar', length: '128', isNullable: true },
          { name: 'cursor', type: 'bigint' },
          { name: 'created_at', type: 'bigint' },
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'webhook_delivery',
        columns: [
          id,
          { name: 'webhook_id', type: 'varchar', length: '64' },
          { name: 'event_id', type: 'bigint', isNullable: true },
          { name: 'sandbox_id', type: 'varchar', length: '64' },
          { name: 'event_type', type: 'varchar', length: '40' },
          { name: 'payload', type: 'text' },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'attempts', type: 'integer' },
          { name: 'next_attempt_at', type: 'bigint' },
          { name: 'lease_until', type: 'bigint', isNullable: true },
          { name: 'lease_token', type: 'varchar', length: '64', isNullable: true },
          { name: 'created_at', type: 'bigint' },
        ],
        indices: [
          new TableIndex({
            name: 'IDX_webhook_delivery_due',
            columnNames: ['status', 'next_attempt_at'],
          }),
          new TableIndex({
            name: 'IDX_webhook_delivery_order',
            columnNames: ['webhook_id', 'sandbox_id', 'id'],
          }),
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'webhook_attempt',
        columns: [
          id,
          { name: 'delivery_id', type: 'bigint' },
          { name: 'webhook_id', type: 'varchar', length: '64' },
          { name: 'attempt', type: 'integer' },
          { name: 'at', type: 'bigint' },
          { name: 'status_code', type: 'integer', isNullable: true },
          { name: 'error', type: 'varchar', length: '512', isNullable: true },
          { name: 'duration_ms', type: 'integer' },
        ],
        indices: [
          new TableIndex({
            name: 'IDX_webhook_attempt_delivery',
            columnNames: ['delivery_id', 'id'],
          }),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('webhook_attempt');
    await queryRunner.dropTable('webhook_delivery');
    await queryRunner.dropTable('webhook');
    await queryRunner.dropTable('sandbox_event');
  }
}
