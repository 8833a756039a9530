import { MigrationInterface, QueryRunner, Table } from 'typeorm';

/**
 * The table of the sandboxes' data-plane access tokens (E2B's envdAccessToken), sealed. Portable
 * Table API, as the initial schema, so one class serves PostgreSQL and SQLite. A row goes with
 * its sandbox (ON DELETE CASCADE); the store also removes it when the sandbox is deleted.
 */
export class AddSandboxAccessTokens1796500000000 implements MigrationInterface {
  name = 'AddSandboxAccessTokens1796500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'sandbox_access_token',
        columns: [
          { name: 'sandbox_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'sealed_token', type: 'text', isNullable: true },
          { name: 'created_at', type: 'bigint' },
        ],
        foreignKeys: [
          {
            name: 'FK_sandbox_access_token_sandbox',
            columnNames: ['sandbox_id'],
            referencedTableName: 'sandbox_table',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          },
        ],
      }),
      true,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('sandbox_access_token', true);
  }
}
