import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from '../platform/column-types';
import { DateTimeScalar } from '../platform/graphql-types';
import type { SealedColumn } from '../platform/resealer';

export enum WebhookStatus {
  ACTIVE = 'ACTIVE',
  DISABLED = 'DISABLED',
}
registerEnumType(WebhookStatus, { name: 'WebhookStatus' });

export enum WebhookDeliveryStatus {
  PENDING = 'PENDING',
  DELIVERED = 'DELIVERED',
  DEAD = 'DEAD',
}
registerEnumType(WebhookDeliveryStatus, {
  name: 'WebhookDeliveryStatus',
  valuesConfig: { DEAD: { description: 'Every attempt failed: dead-lettered, with the last response kept.' } },
});

// Row and API type share a class; the sealed signing secrets carry no @Field.
@ObjectType()
@Entity('webhooks')
export class Webhook {
  @Field(() => ID)
  @PrimaryColumn('uuid')
  id!: string;

  @Column('uuid', { name: 'tenant_id' })
  tenantId!: string;

  @Field()
  @Column('text')
  url!: string;

  @Field(() => [String], { description: 'Audit actions delivered (for example TOKEN_EXPIRING), or "*" for all.' })
  @Column('text', { array: true })
  events!: string[];

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  description!: string | null;

  @Field(() => WebhookStatus)
  @Column('text')
  status!: WebhookStatus;

  @Field(() => String, { nullable: true })
  @Column('text', { name: 'disabled_reason', nullable: true })
  disabledReason!: string | null;

  @Column('text', { name: 'secret_ciphertext' })
  secretCiphertext!: string;

  @Column('text', { name: 'secret_key_id' })
  secretKeyId!: string;

  @Column('text', { name: 'previous_secret_ciphertext', nullable: true })
  previousSecretCiphertext!: string | null;

  @Column('text', { name: 'previous_secret_key_id', nullable: true })
  previousSecretKeyId!: string | null;

  @Column('timestamptz', { name: 'previous_secret_until', nullable: true })
  previousSecretUntil!: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  @Column('timestamptz', { name: 'last_success_at', nullable: true })
  lastSuccessAt!: Date | null;

  @Field()
  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Field()
  @Column('timestamptz', { name: 'updated_at' })
  updatedAt!: Date;
}

@ObjectType()
@Entity('webhook_deliveries')
export class WebhookDelivery {
  @Field(() => ID)
  @PrimaryColumn('uuid')
  id!: string;

  @Column('uuid', { name: 'tenant_id' })
  tenantId!: string;

  @Field(() => ID)
  @Column('uuid', { name: 'webhook_id' })
  webhookId!: string;

  @Field(() => ID, { description: 'The audit event; the webhook-id header is msg_<this id> on every attempt.' })
  @Column('uuid', { name: 'event_id' })
  eventId!: string;

  @Field(() => Int)
  @Column('bigint', { name: 'event_seq', transformer: bigintAsNumber })
  eventSeq!: number;

  @Field()
  @Column('text', { name: 'event_action' })
  eventAction!: string;

  @Field(() => WebhookDeliveryStatus)
  @Column('text')
  status!: WebhookDeliveryStatus;

  @Field(() => Int)
  @Column('integer')
  attempts!: number;

  @Field(() => DateTimeScalar, { nullable: true })
  @Column('timestamptz', { name: 'last_attempt_at', nullable: true })
  lastAttemptAt!: Date | null;

  @Field(() => Int, { nullable: true })
  @Column('integer', { name: 'last_status', nullable: true })
  lastStatus!: number | null;

  @Field(() => String, { nullable: true })
  @Column('text', { name: 'last_error', nullable: true })
  lastError!: string | null;

  @Field(() => String, { nullable: true, description: 'The first kilobyte of the last response body.' })
  @Column('text', { name: 'last_response', nullable: true })
  lastResponse!: string | null;

  @Field()
  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Field(() => DateTimeScalar, { nullable: true })
  @Column('timestamptz', { name: 'delivered_at', nullable: true })
  deliveredAt!: Date | null;

  @Field(() => DateTimeScalar, { nullable: true, description: 'When the next attempt of a PENDING delivery is due.' })
  @Column('timestamptz', { name: 'next_attempt_at', nullable: true })
  nextAttemptAt!: Date | null;

  /** The BullMQ job that carries the delivery: a sweep re-adds it under this id, which is a no-op while it exists. */
  @Column('text', { name: 'job_id', nullable: true })
  jobId!: string | null;
}

/** The signing secrets, sealed under the key ring with the endpoint's id. */
export const WEBHOOK_SEALED_COLUMNS: SealedColumn[] = [
  { table: 'webhooks', ciphertext: 'secret_ciphertext', keyId: 'secret_key_id', contextPrefix: '' },
  { table: 'webhooks', ciphertext: 'previous_secret_ciphertext', keyId: 'previous_secret_key_id', contextPrefix: '' },
];
