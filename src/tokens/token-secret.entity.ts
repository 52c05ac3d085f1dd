import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { SealedColumn } from '../platform/resealer';

export type SecretStateValue = 'CURRENT' | 'PREVIOUS' | 'RETIRED' | 'REVOKED';

// Holds a keyed hash, never a secret; it has no GraphQL type of its own (see TokenSecret).
@Entity('token_secrets')
export class TokenSecretRow {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('uuid', { name: 'tenant_id' })
  tenantId!: string;

  @Column('uuid', { name: 'token_id' })
  tokenId!: string;

  @Column('integer')
  generation!: number;

  @Column('char', { length: 64 })
  hash!: string;

  @Column('text')
  hint!: string;

  @Column('text')
  state!: SecretStateValue;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'grace_ends_at', nullable: true })
  graceEndsAt!: Date | null;

  @Column('timestamptz', { name: 'ended_at', nullable: true })
  endedAt!: Date | null;

  /** A successor made by a scheduled rotation, AES-256-GCM sealed, until picked up or grace ends. */
  @Column('text', { nullable: true })
  sealed?: string | null;

  @Column('text', { name: 'sealed_key_id', nullable: true })
  sealedKeyId?: string | null;

  @Column('timestamptz', { name: 'picked_up_at', nullable: true })
  pickedUpAt?: Date | null;
}

/** A successor waiting for pickup, sealed under the key ring with its own id. */
export const TOKEN_SEALED_COLUMNS: SealedColumn[] = [
  { table: 'token_secrets', ciphertext: 'sealed', keyId: 'sealed_key_id', contextPrefix: '' },
];
