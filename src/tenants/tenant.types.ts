import { IsEmail, IsOptional, Length, MaxLength } from 'class-validator';
import { Field, InputType, ObjectType } from 'type-graphql';
import { Owner } from '../owners/owner.entity';
import { IssuedToken } from '../tokens/token.types';
import { Tenant } from './tenant.entity';

@InputType()
export class CreateTenantInput {
  @Field()
  @Length(1, 200)
  name!: string;

  @Field()
  @Length(1, 200)
  adminName!: string;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsEmail()
  @MaxLength(320)
  adminEmail?: string | null;
}

@ObjectType()
export class CreatedTenant {
  @Field(() => Tenant)
  tenant!: Tenant;

  @Field(() => Owner, { description: 'An owner with the built-in admin role in the new tenant, and its first token.' })
  admin!: Owner;

  @Field(() => IssuedToken)
  adminToken!: IssuedToken;
}
