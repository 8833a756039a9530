import { MigrationInterface, QueryRunner, Table, TableColumn } from 'typeorm';

/**
 * Cluster mode (CLUSTER=swarm):
 * - `sandbox_table.node`: the Swarm node whose engine holds the container; '' (not NULL, like
 *   `tenant`) for every existing row, which is on the single host. The usage counters count a
 *   live row on its node's row (`node:<id>`) instead of `host`.
 * - `cluster_node`: the Swarm's inventory and each node's instance heartbeat (ClusterNodeEntity).
 */
export class AddClusterNodes1797000000000 implements MigrationInterface {
  name = 'AddClusterNodes1797000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn(
      'sandbox_table',
      new TableColumn({ name: 'node', type: 'varchar', length: '64', default: `''` }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'cluster_node',
        columns: [
          { name: 'node_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'hostname', type: 'varchar', length: '255', default: `''` },
          { name: 'role', type: 'varchar', length: '16', default: `''` },
          { name: 'availability', type: 'varchar', length: '16', default: `''` },
          { name: 'state', type: 'varchar', length: '16', default: `''` },
          { name: 'labels', type: 'text', default: `'{}'` },
          { name: 'cpus', type: 'float', default: 0 },
          { name: 'memory_bytes', type: 'bigint', default: 0 },
          { name: 'platform', type: 'varchar', length: '64', default: `''` },
          { name: 'observed_at', type: 'bigint', isNullable: true },
          { name: 'instance_id', type: 'varchar', length: '64', isNullable: true },
          { name: 'api_url', type: 'varchar', length: '512', isNullable: true },
          { name: 'e2b_url', type: 'varchar', length: '512', isNullable: true },
          { name: 'heartbeat_at', type: 'bigint', isNullable: true },
        ],
      }),
      true,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('cluster_node', true);
    await queryRunner.dropColumn('sandbox_table', 'node');
  }
}
