import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from '../platform/column-types';
import { JSONObjectScalar } from '../platform/graphql-types';

// Row and API type share a class: an audit event is shown as it is stored, chain fields included.
@ObjectType()
@Entity('audit_events')
export class AuditEvent {
  @Field(() => ID)
  @PrimaryColumn('uuid')
  id!: string;

  @Column('uuid', { name: 'tenant_id' })
  tenantId!: string;

  @Field(() => Int, { description: 'Per tenant: gap-free and ascending.' })
  @Column('bigint', { transformer: bigintAsNumber })
  seq!: number;

  @Field()
  @Column('timestamptz')
  at!: Date;

  @Field({
    description: 'TOKEN_ISSUED, TOKEN_ROTATED, TOKEN_REVOKED, TOKEN_EXPIRED, TOKEN_EXPIRING, POLICY_CREATED, ...',
  })
  @Column('text')
  action!: string;

  @Field(() => ID, { nullable: true, description: 'null when the system acted (a scheduled job)' })
  @Column('uuid', { name: 'actor_id', nullable: true })
  actorId!: string | null;

  @Field()
  @Column('text', { name: 'target_type' })
  targetType!: string;

  @Field(() => ID)
  @Column('uuid', { name: 'target_id' })
  targetId!: string;

  @Field(() => JSONObjectScalar)
  @Column('jsonb')
  data!: Record<string, unknown>;

  @Field()
  @Column('char', { name: 'prev_hash', length: 64 })
  prevHash!: string;

  @Field()
  @Column('char', { length: 64 })
  hash!: string;
}

/** The end of each tenant's chain: last seq and hash, locked by every append. */
@Entity('audit_heads')
export class AuditHeadRow {
  @PrimaryColumn('uuid', { name: 'tenant_id' })
  tenantId!: string;

  @Column('bigint', { transformer: bigintAsNumber })
  seq!: number;

  @Column('char', { length: 64 })
  hash!: string;
}
