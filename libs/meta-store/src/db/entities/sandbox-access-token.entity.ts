import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMsTransformer } from '../epoch-ms.transformer';

/**
 * A sandbox's data-plane access token (E2B's envdAccessToken), sealed like an env value. A row
 * of its own, not a field of the spec or the info: it is issued after the create, or at the first
 * E2B connect of a sandbox made through /v1, and one INSERT that only the first writer wins makes
 * that race-safe across replicas. No read of a sandbox's record ever carries it.
 */
@Entity('sandbox_access_token')
export class SandboxAccessTokenEntity {
  @PrimaryColumn({ name: 'sandbox_id', type: 'varchar', length: 64 })
  sandboxId!: string;

  /** The sealed token; null when the sandbox was made open (E2B's `secure: false`). */
  @Column({ name: 'sealed_token', type: 'text', nullable: true })
  sealedToken!: string | null;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMsTransformer })
  createdAt!: number;
}
