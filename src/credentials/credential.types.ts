import { Field, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { DurationScalar } from '../platform/duration';
import { ConnectionType, DateTimeScalar, JSONObjectScalar } from '../platform/graphql-types';
import { Credential, CredentialVersion } from './credential.entity';

export enum RotatorKind {
  WEBHOOK = 'WEBHOOK',
  POSTGRES = 'POSTGRES',
  REDIS = 'REDIS',
}
registerEnumType(RotatorKind, {
  name: 'RotatorKind',
  valuesConfig: {
    WEBHOOK: {
      description:
        'An HTTPS endpoint you run, called for each step (create, set, test, finish), signed as Standard Webhooks.',
    },
    POSTGRES: { description: 'Two login roles used in turn; the value is a postgres:// URL.' },
    REDIS: {
      description: 'An ACL user holding the old and the new password through the grace; the value is a redis:// URL.',
    },
  },
});

@InputType({
  description:
    'A credential and its first value. The value is sealed at once and never shown again but through a reveal.',
})
export class CreateCredentialInput {
  @Field()
  name!: string;

  @Field(() => String, { nullable: true })
  service?: string | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => String, { nullable: true, description: 'The answerable owner; the caller when left out.' })
  ownerId?: string | null;

  @Field(() => JSONObjectScalar, { nullable: true })
  labels?: Record<string, unknown> | null;

  @Field({ description: 'At most 64 KiB.' })
  value!: string;

  @Field(() => DateTimeScalar, { nullable: true, description: "The vendor's expiry of this value, if it has one." })
  expiresAt?: Date | null;
}

@InputType({
  description:
    'A new value pasted by hand (the vendor issued it): it becomes CURRENT, the old one PREVIOUS until gracePeriod ends.',
})
export class AddCredentialVersionInput {
  @Field()
  name!: string;

  @Field()
  value!: string;

  @Field(() => DateTimeScalar, { nullable: true })
  expiresAt?: Date | null;

  @Field(() => DurationScalar, {
    description: 'How long the replaced value stays readable (PT0S retires it at once); at most P90D.',
  })
  gracePeriod!: number;
}

@ObjectType({ description: 'A value handed out. The reveal is in the audit log before this is returned.' })
export class RevealedCredential {
  @Field()
  name!: string;

  @Field(() => Int)
  version!: number;

  @Field()
  value!: string;

  @Field(() => DateTimeScalar, { nullable: true })
  expiresAt!: Date | null;
}

export const CredentialConnection = ConnectionType(Credential, 'Credential');
export const CredentialVersionConnection = ConnectionType(CredentialVersion, 'CredentialVersion');

/** Rotations a credential lists, newest first. */
export const ROTATIONS_SHOWN = 20;

@InputType({ description: 'Who rotates a credential, and how often.' })
export class SetCredentialRotatorInput {
  @Field(() => RotatorKind)
  kind!: RotatorKind;

  @Field(() => String, {
    nullable: true,
    description: 'WEBHOOK: the endpoint (https; the webhook address rules apply).',
  })
  url?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      'POSTGRES, REDIS: the name of the managed credential holding the privileged connection URL; the caller must be granted to read it.',
  })
  connection?: string | null;

  @Field(() => [String], { nullable: true, description: 'POSTGRES: the two login roles used in turn.' })
  roles?: string[] | null;

  @Field(() => DurationScalar, {
    nullable: true,
    description: 'Rotate on this schedule; left out: only when asked (rotateCredential).',
  })
  rotateEvery?: number | null;

  @Field(() => DurationScalar, {
    description: 'How long the replaced value stays readable and accepted; shorter than rotateEvery.',
  })
  gracePeriod!: number;
}

@ObjectType()
export class CredentialRotatorSet {
  @Field(() => Credential)
  credential!: Credential;

  @Field(() => String, { nullable: true, description: "WEBHOOK: whsec_… to verify Latchkey's calls with. Shown once." })
  signingSecret!: string | null;
}

@InputType({ description: 'What is known about a credential, never its value. Fields left out stay as they are.' })
export class UpdateCredentialInput {
  @Field(() => String, { nullable: true })
  service?: string | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => JSONObjectScalar, { nullable: true, description: 'Replaces all labels.' })
  labels?: Record<string, unknown> | null;

  @Field(() => String, { nullable: true, description: 'The answerable owner.' })
  ownerId?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'A rotation policy whose notifyBefore offsets time the warnings about vendor expiries.',
  })
  rotationPolicyId?: string | null;
}
