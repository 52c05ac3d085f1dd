import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from '../platform/column-types';

export type TokenStatusValue = 'ACTIVE' | 'SUSPENDED' | 'EXPIRED' | 'REVOKED';
export type TokenKindValue = 'CONTROL' | 'DATA';

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

  /** Whether the token may call Latchkey itself; fixed at issue. */
  @Column({ type: 'text', update: false })
  kind!: TokenKindValue;

  /** Its networks, rate limit or policy were set by someone other than its owner: the owner alone may only tighten them. */
  @Column('boolean', { name: 'restrictions_locked' })
  restrictionsLocked!: boolean;

  @Column('integer')
  generation!: number;

  @Column('uuid', { name: 'rotation_policy_id', nullable: true })
  rotationPolicyId!: string | null;

  @Column('timestamptz', { name: 'expires_at', nullable: true })
  expiresAt!: Date | null;

  @Column('timestamptz', { name: 'next_rotation_at', nullable: true })
  nextRotationAt!: Date | null;

  /** The expiry asked for at issue, before a policy capped it: a policy change re-caps from here. */
  @Column('timestamptz', { name: 'requested_expires_at', nullable: true })
  requestedExpiresAt!: Date | null;

  /** When the next expiry warning is due; null when none is left. */
  @Column('timestamptz', { name: 'next_notify_at', nullable: true })
  nextNotifyAt!: Date | null;

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

  /** Moves with every change verification depends on (a trigger bumps it). */
  @Column({ type: 'bigint', transformer: bigintAsNumber, insert: false, update: false })
  version!: number;

  @Column('integer', { name: 'rate_limit', nullable: true })
  rateRequests!: number | null;

  @Column('integer', { name: 'rate_window_s', nullable: true })
  rateWindow!: number | null;

  @Column('cidr', { name: 'allowed_cidrs', array: true, nullable: true })
  allowedCidrs!: string[] | null;
}
