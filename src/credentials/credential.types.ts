import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { DurationScalar } from '../platform/duration';
import { ConnectionType, DateTimeScalar, JSONObjectScalar } from '../platform/graphql-types';
import { Credential } from './credential.entity';

@InputType({ description: 'A credential and its first value. The value is sealed at once and never shown again but through a reveal.' })
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

@InputType({ description: "A new value pasted by hand (the vendor issued it): it becomes CURRENT, the old one PREVIOUS until gracePeriod ends." })
export class AddCredentialVersionInput {
  @Field()
  name!: string;

  @Field()
  value!: string;

  @Field(() => DateTimeScalar, { nullable: true })
  expiresAt?: Date | null;

  @Field(() => DurationScalar, { description: 'How long the replaced value stays readable (PT0S retires it at once); at most P90D.' })
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
