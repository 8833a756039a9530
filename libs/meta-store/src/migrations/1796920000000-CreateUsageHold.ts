import { MigrationInterface, QueryRunner, Table } from 'typeorm';

/** usage_hold: the shares creates take on the usage counters before their insert (UsageHoldEntity). */
export class CreateUsageHold1796920000000 implements MigrationInterface {
  name = 'CreateUsageHold1796920000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'usage_hold',
        columns: [
          { name: 'sandbox_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'scope', type: 'varchar', length: '128', isPrimary: true },
          { name: 'sandboxes', type: 'bigint' },
          { name: 'live_sandboxes', type: 'bigint' },
          { name: 'cpu_nanos', type: 'bigint' },
          { name: 'memory_bytes', type: 'bigint' },
          { name: 'created_at', type: 'bigint' },
        ],
      }),
      true,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('usage_hold', true);
  }
}
