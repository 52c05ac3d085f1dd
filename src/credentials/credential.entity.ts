// A managed credential (a value someone else issued, kept sealed), its versions and its grants.
// Row and API type share a class; the sealed value carries no @Field and never leaves but through
// a reveal.
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import { DurationScalar } from '../platform/duration';
import { DateTimeScalar, JSONObjectScalar } from '../platform/graphql-types';
import { maskUrl, urlDigest } from '../platform/capability-url';
import type { SealedColumn } from '../platform/resealer';

export enum CredentialVersionState {
  CURRENT = 'CURRENT',
  PENDING = 'PENDING',
  PREVIOUS = 'PREVIOUS',
  RETIRED = 'RETIRED',
}
registerEnumType(CredentialVersionState, {
  name: 'CredentialVersionState',
  description: 'Where a version stands. Exactly one version of a credential is CURRENT.',
  valuesConfig: {
    CURRENT: { description: 'The value handed out.' },
    PENDING: { description: 'Being rotated in: sealed, not handed out until the rotation finishes.' },
    PREVIOUS: {
      description: 'Replaced, still accepted by the vendor until graceEndsAt; readable by version until then.',
    },
    RETIRED: { description: 'Its value is destroyed; what is known about it stays.' },
  },
});

/**
 * What retiring a version writes, whoever retires it (a new version, the end of a grace, an
 * abandoned rotation): the state, and the ciphertext destroyed with its data key reference.
 */
@ObjectType({
  description:
    'A secret value issued by someone else (a CRM API key), kept sealed, handed out to granted owners, every read audited.',
})
@Entity('credentials')
export class Credential {
  @Field(() => ID)
  @PrimaryColumn('uuid')
  id!: string;

  @Column('uuid', { name: 'tenant_id' })
  tenantId!: string;

  @Field({ description: 'Unique in the tenant: lower-case letters, digits, ".", "_" and "-" (crm-sales-readonly).' })
  @Column('text')
  name!: string;

  @Field(() => String, { nullable: true, description: 'The system that issued it (salesforce, mixpanel).' })
  @Column('text', { nullable: true })
  service!: string | null;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  description!: string | null;

  @Field(() => ID, { description: 'The owner answerable for it.' })
  @Column('uuid', { name: 'owner_id' })
  ownerId!: string;

  @Field(() => JSONObjectScalar)
  @Column('jsonb')
  labels!: Record<string, string>;

  @Field(() => ID, {
    nullable: true,
    description:
      "A rotation policy whose notifyBefore offsets time the warnings about the vendor's expiry (a week and a day before, without one).",
  })
  @Column('uuid', { name: 'rotation_policy_id', nullable: true })
  rotationPolicyId!: string | null;

  /** Who rotates it (see rotators.ts); null: by hand only. */
  @Column('jsonb', { nullable: true })
  rotator!: RotatorConfig | null;

  @Column('text', { name: 'rotator_secret_ciphertext', nullable: true })
  rotatorSecretCiphertext!: string | null;

  @Column('text', { name: 'rotator_secret_key_id', nullable: true })
  rotatorSecretKeyId!: string | null;

  @Field(() => DurationScalar, {
    name: 'rotateEvery',
    nullable: true,
    description: 'How often its rotator rotates it; null: only when asked.',
  })
  @Column('integer', { name: 'rotate_every_s', nullable: true })
  rotateEveryS!: number | null;

  @Field(() => DurationScalar, {
    name: 'gracePeriod',
    description: 'How long a value its rotator replaced stays readable (and accepted).',
  })
  @Column('integer', { name: 'grace_period_s' })
  gracePeriodS!: number;

  @Field(() => DateTimeScalar, { nullable: true, description: 'When its rotator next rotates it.' })
  @Column('timestamptz', { name: 'next_rotation_at', nullable: true })
  nextRotationAt!: Date | null;

  @Field(() => DateTimeScalar)
  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Field(() => DateTimeScalar)
  @Column('timestamptz', { name: 'updated_at' })
  updatedAt!: Date;
}

@ObjectType({
  description:
    'One value of a credential over time. The value itself is read only through revealCredential or GET /v1/credentials/{name}.',
})
@Entity('credential_versions')
export class CredentialVersion {
  @Field(() => ID)
  @PrimaryColumn('uuid')
  id!: string;

  @Column('uuid', { name: 'tenant_id' })
  tenantId!: string;

  @Column('uuid', { name: 'credential_id' })
  credentialId!: string;

  @Field(() => Int)
  @Column('integer')
  version!: number;

  @Field(() => CredentialVersionState)
  @Column('text')
  state!: CredentialVersionState;

  @Column('text', { nullable: true })
  ciphertext!: string | null;

  @Column('uuid', { name: 'data_key_id', nullable: true })
  dataKeyId!: string | null;

  @Field(() => DateTimeScalar, {
    nullable: true,
    description: "The vendor's own expiry of this value, when it has one.",
  })
  @Column('timestamptz', { name: 'expires_at', nullable: true })
  expiresAt!: Date | null;

  @Field(() => DateTimeScalar, { nullable: true, description: 'For a PREVIOUS version: when it is retired.' })
  @Column('timestamptz', { name: 'grace_ends_at', nullable: true })
  graceEndsAt!: Date | null;

  @Field(() => ID, { nullable: true, description: 'Who added it (null: a rotator).' })
  @Column('uuid', { name: 'created_by', nullable: true })
  createdBy!: string | null;

  @Field(() => DateTimeScalar)
  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Field(() => DateTimeScalar, { nullable: true })
  @Column('timestamptz', { name: 'retired_at', nullable: true })
  retiredAt!: Date | null;

  /** The rotation that created it, if a rotator did. */
  @Column('uuid', { name: 'rotation_id', nullable: true })
  rotationId!: string | null;

  /** When the jobs next say something about its expiry. */
  @Column('timestamptz', { name: 'next_notify_at', nullable: true })
  nextNotifyAt!: Date | null;
}

@ObjectType({ description: 'An owner allowed to read the values of a credential.' })
@Entity('credential_grants')
export class CredentialGrant {
  @Column('uuid', { name: 'tenant_id' })
  tenantId!: string;

  @PrimaryColumn('uuid', { name: 'credential_id' })
  credentialId!: string;

  @Field(() => ID)
  @PrimaryColumn('uuid', { name: 'owner_id' })
  ownerId!: string;

  @Field(() => ID, { nullable: true })
  @Column('uuid', { name: 'granted_by', nullable: true })
  grantedBy!: string | null;

  @Field(() => DateTimeScalar)
  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;
}

/**
 * A rotator as readers see it: a WEBHOOK rotator's URL may carry a token, so it is masked unless
 * `full` (the reader may change it), and always comes with its digest.
 */
export function shownRotator(r: RotatorConfig, full: boolean): Record<string, unknown> {
  return r.kind === 'WEBHOOK' ? { ...r, url: full ? r.url : maskUrl(r.url), urlDigest: urlDigest(r.url) } : { ...r };
}

export type RotatorConfig =
  | { kind: 'WEBHOOK'; url: string }
  | { kind: 'POSTGRES'; connection: string; roles: [string, string] }
  | { kind: 'REDIS'; connection: string };

export enum RotationState {
  RUNNING = 'RUNNING',
  DONE = 'DONE',
  FAILED = 'FAILED',
  ABANDONED = 'ABANDONED',
}
registerEnumType(RotationState, { name: 'CredentialRotationState' });

export const ROTATION_STEPS = ['create', 'set', 'test', 'finish'] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

@ObjectType({ description: "One run of a credential's rotator through its steps: create, set, test, finish." })
@Entity('credential_rotations')
export class CredentialRotation {
  @Field(() => ID)
  @PrimaryColumn('uuid')
  id!: string;

  @Column('uuid', { name: 'tenant_id' })
  tenantId!: string;

  @Column('uuid', { name: 'credential_id' })
  credentialId!: string;

  @Field(() => RotationState)
  @Column('text')
  state!: RotationState;

  @Field(() => String, { description: 'The step running, or where it ended: create, set, test or finish.' })
  @Column('text')
  step!: RotationStep;

  @Field(() => Int, { nullable: true, description: 'The PENDING version it created.' })
  @Column('integer', { name: 'pending_version', nullable: true })
  pendingVersion!: number | null;

  @Field(() => ID, { nullable: true })
  @Column('uuid', { name: 'started_by', nullable: true })
  startedBy!: string | null;

  @Field(() => DateTimeScalar)
  @Column('timestamptz', { name: 'started_at' })
  startedAt!: Date;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt!: Date;

  @Field(() => DateTimeScalar, { description: 'Abandoned if not finished by then.' })
  @Column('timestamptz')
  deadline!: Date;

  @Field(() => DateTimeScalar, { nullable: true })
  @Column('timestamptz', { name: 'ended_at', nullable: true })
  endedAt!: Date | null;

  @Field(() => String, {
    nullable: true,
    description: 'Why it failed: the step and what the rotator answered (a status, never a value).',
  })
  @Column('text', { nullable: true })
  failure!: string | null;
}

/** A tenant's data key, wrapped by a key of the ring. */
@Entity('tenant_data_keys')
export class TenantDataKey {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('uuid', { name: 'tenant_id' })
  tenantId!: string;

  @Column('text', { name: 'key_id' })
  keyId!: string;

  @Column('text', { name: 'wrapped_key' })
  wrappedKey!: string;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'rewrapped_at', nullable: true })
  rewrappedAt!: Date | null;
}

/** A webhook rotator's signing secret, sealed under the key ring (not a data key) with `rotator:<id>`. */
export const CREDENTIAL_SEALED_COLUMNS: SealedColumn[] = [
  {
    table: 'credentials',
    ciphertext: 'rotator_secret_ciphertext',
    keyId: 'rotator_secret_key_id',
    contextPrefix: 'rotator:',
  },
];
