import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import { DurationScalar } from '../platform/duration';

export enum ReuseAction {
  NOTIFY = 'NOTIFY',
  REVOKE = 'REVOKE',
}
registerEnumType(ReuseAction, {
  name: 'ReuseAction',
  description:
    'What happens when a superseded secret asks for its successor after its grace period ended: a copy that never moved over.',
  valuesConfig: {
    NOTIFY: { description: 'Refuse the pickup (401) and audit TOKEN_REUSE_DETECTED.' },
    REVOKE: { description: 'Also revoke the whole token.' },
  },
});

// Row and API type share a class. Durations are whole seconds in both the row and the
// resolvers; the Duration scalar speaks ISO-8601 on the wire.
@ObjectType()
@Entity('rotation_policies')
export class RotationPolicy {
  @Field(() => ID)
  @PrimaryColumn('uuid')
  id!: string;

  @Column('uuid', { name: 'tenant_id' })
  tenantId!: string;

  @Field()
  @Column('text')
  name!: string;

  @Field(() => DurationScalar, { nullable: true, description: 'null: no scheduled rotation' })
  @Column('integer', { name: 'rotate_every_s', nullable: true })
  rotateEvery!: number | null;

  @Field(() => DurationScalar, { description: 'How long the previous secret stays valid after a rotation.' })
  @Column('integer', { name: 'grace_period_s' })
  gracePeriod!: number;

  @Field(() => DurationScalar, {
    nullable: true,
    description: 'Lifetime given to tokens issued under this policy; null: no expiry.',
  })
  @Column('integer', { name: 'expire_after_s', nullable: true })
  expireAfter!: number | null;

  @Field(() => [DurationScalar], { description: 'Expiry warnings, for example [P7D, P1D].' })
  @Column('integer', { name: 'notify_before_s', array: true })
  notifyBefore!: number[];

  @Field(() => ReuseAction)
  @Column('text', { name: 'on_reuse' })
  onReuse!: ReuseAction;

  @Column('integer', { name: 'rate_limit', nullable: true })
  rateRequests!: number | null;

  @Column('integer', { name: 'rate_window_s', nullable: true })
  rateWindow!: number | null;

  @Field()
  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Field()
  @Column('timestamptz', { name: 'updated_at' })
  updatedAt!: Date;
}
