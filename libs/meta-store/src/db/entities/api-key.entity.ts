import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { epochMsTransformer } from '../epoch-ms.transformer';

/**
 * One API key of a tenant. The key itself is never stored: `key_hash` is the SHA-256 of it (see
 * @app/auth's api-key-format.ts for why a fast hash is right for a 256-bit random secret). The id
 * is the key's public part, so a presented key is found by primary key and its hash compared in
 * constant time. A revoked key keeps its row (revoked_at set), so the ids that history entries and
 * events name still say whose key it was.
 */
@Entity('api_key')
@Index('IDX_api_key_tenant', ['tenant'])
export class ApiKeyEntity {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  id!: string;

  /** Lower-case hex of SHA-256(key). */
  @Column({ name: 'key_hash', type: 'varchar', length: 64 })
  keyHash!: string;

  @Column({ type: 'varchar', length: 64 })
  tenant!: string;

  @Column({ type: 'varchar', length: 128 })
  name!: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMsTransformer })
  createdAt!: number;

  /** Written at most once a minute per key and process, not on every request. */
  @Column({
    name: 'last_used_at',
    type: 'bigint',
    nullable: true,
    transformer: epochMsTransformer,
  })
  lastUsedAt!: number | null;

  @Column({ name: 'revoked_at', type: 'bigint', nullable: true, transformer: epochMsTransformer })
  revokedAt!: number | null;
}
