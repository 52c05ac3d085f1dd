import { ArrayMaxSize, IsEmail, IsOptional, Length, MaxLength } from 'class-validator';
import { Field, InputType } from 'type-graphql';
import { ConnectionType } from '../platform/graphql-types';
import { Owner, OwnerKind } from './owner.entity';

/** Most scopes in one owner's ceiling: a page, as every list the API returns whole. */
export const MAX_CEILING = 100;

export const OwnerConnection = ConnectionType(Owner, 'Owner');

@InputType()
export class CreateOwnerInput {
  @Field(() => OwnerKind)
  kind!: OwnerKind;

  @Field()
  @Length(1, 200)
  name!: string;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsEmail()
  @MaxLength(320)
  email?: string | null;

  @Field(() => [String], { nullable: true, description: 'Scope names: the ceiling for this owner’s tokens.' })
  @IsOptional()
  @ArrayMaxSize(MAX_CEILING)
  allowedScopes?: string[] | null;
}

@InputType({ description: 'Fields left out stay as they are.' })
export class UpdateOwnerInput {
  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(1, 200)
  name?: string | null;

  @Field(() => String, { nullable: true, description: 'An empty string clears the email.' })
  @IsOptional()
  @MaxLength(320)
  email?: string | null;

  @Field(() => [String], {
    nullable: true,
    description: 'Replaces the ceiling. Scopes taken away are removed from the owner’s tokens too.',
  })
  @IsOptional()
  @ArrayMaxSize(MAX_CEILING)
  allowedScopes?: string[] | null;
}
