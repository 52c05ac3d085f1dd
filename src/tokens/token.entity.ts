import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from '../platform/column-types';

export type TokenStatusValue = 'ACTIVE' | 'SUSPENDED' | 'EXPIRED' | 'REVOKED';



@Entity('tokens')
export class TokenRow {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('uuid', { name: 'tenant_id' })
  tenantId!: string;

  @Column('uuid', { name: 'owner_id' })
  ownerId!: string;

  @Column('text')
  name!: string;

  @Column('text', { nullable: true })
  description!: string | null;

  @Column('jsonb')
  labels!: Record<string, string>;

  @Column('text')
  status!: TokenStatusValue;

  @Column('integer')
  generation!: number;

  @Column('uuid', { name: 'rotation_policy_id', nullable: true })
  rotationPolicyId!: string | null;

  @Column('timestamptz', { name: 'expires_at', nullable: true })
  expiresAt!: Date | null;

  @Column('timestamptz', { name: 'next_rotation_at', nullable: true })
  nextRotationAt!: Date | null;

  @Column('timestamptz', { name: 'last_used_at', nullable: true })
  lastUsedAt!: Date | null;

  @Column('bigint', { name: 'usage_count', transformer: bigintAsNumber })
  usageCount!: number;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt!: Date;

  @Column('text', { name: 'suspended_reason', nullable: true })
  suspendedReason!: string | null;

  @Column('timestamptz', { name: 'revoked_at', nullable: true })
  revokedAt!: Date | null;

  @Column('text', { name: 'revoked_reason', nullable: true })
  revokedReason!: string | null;
}

@Entity('token_scopes')
export class TokenScopeRow {
  @PrimaryColumn('uuid', { name: 'tenant_id' })
  tenantId!: string;

  @PrimaryColumn('uuid', { name: 'token_id' })
  tokenId!: string;

  @PrimaryColumn('uuid', { name: 'scope_id' })
  scopeId!: string;
}
