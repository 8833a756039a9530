import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/**
 * The initial schema, written with TypeORM's portable Table API so one class runs on PostgreSQL
 * and SQLite. simple-json columns are `text` on both drivers; epoch-ms times are `bigint`.
 * Partial indexes (WHERE …) exist on both databases.
 */
export class CreateSandboxTables1795812944656 implements MigrationInterface {
  name = 'CreateSandboxTables1795812944656';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'sandbox_table',
        columns: [
          { name: 'id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'name', type: 'varchar', length: '128', isNullable: true },
          { name: 'state', type: 'varchar', length: '16' },
          { name: 'operation', type: 'varchar', length: '16', isNullable: true },
          { name: 'image', type: 'varchar', length: '512' },
          { name: 'labels', type: 'text' },
          { name: 'instance_id', type: 'varchar', length: '64' },
          { name: 'created_at', type: 'bigint' },
          { name: 'started_at', type: 'bigint', isNullable: true },
          { name: 'stopped_at', type: 'bigint', isNullable: true },
          { name: 'deleted_at', type: 'bigint', isNullable: true },
          { name: 'spec', type: 'text' },
          { name: 'info', type: 'text' },
          { name: 'machine_snapshot', type: 'text', isNullable: true },
          { name: 'machine_version', type: 'varchar', length: '32' },
          { name: 'version', type: 'integer' },
        ],
        indices: [
          new TableIndex({ name: 'IDX_sandbox_table_state', columnNames: ['state'] }),
          new TableIndex({ name: 'IDX_sandbox_table_image', columnNames: ['image'] }),
          // A name is reusable once its sandbox is deleted, so uniqueness covers live rows only.
          new TableIndex({
            name: 'UQ_sandbox_table_live_name',
            columnNames: ['name'],
            isUnique: true,
            where: `"state" <> 'deleted' AND "name" IS NOT NULL`,
          }),
          // Crash recovery scans rows with an operation in flight: few, so a small partial index.
          new TableIndex({
            name: 'IDX_sandbox_table_operation_in_flight',
            columnNames: ['id'],
            where: `"operation" IS NOT NULL`,
          }),
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'sandbox_label',
        columns: [
          { name: 'sandbox_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'key', type: 'varchar', length: '128', isPrimary: true },
          { name: 'value', type: 'varchar', length: '512' },
        ],
        indices: [
          new TableIndex({ name: 'IDX_sandbox_label_key_value', columnNames: ['key', 'value'] }),
        ],
        foreignKeys: [
          {
            name: 'FK_sandbox_label_sandbox',
            columnNames: ['sandbox_id'],
            referencedTableName: 'sandbox_table',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          },
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'idempotency_key',
        columns: [
          { name: 'key', type: 'varchar', length: '255', isPrimary: true },
          { name: 'fingerprint', type: 'varchar', length: '128' },
          { name: 'sandbox_id', type: 'varchar', length: '64' },
          { name: 'created_at', type: 'bigint' },
        ],
        foreignKeys: [
          {
            name: 'FK_idempotency_key_sandbox',
            columnNames: ['sandbox_id'],
            referencedTableName: 'sandbox_table',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('idempotency_key');
    await queryRunner.dropTable('sandbox_label');
    await queryRunner.dropTable('sandbox_table');
  }
}
