import { IsOptional, MaxLength } from 'class-validator';
import { Field, InputType, Int, ObjectType } from 'type-graphql';

@InputType()
export class CreateScopeInput {
  @Field({ description: '<service>:<resource>:<read|write>' })
  @MaxLength(200)
  name!: string;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @MaxLength(1000)
  description?: string | null;
}

@InputType()
export class UpdateScopeInput {
  @Field(() => String, { nullable: true })
  @IsOptional()
  @MaxLength(1000)
  description?: string | null;
}

@ObjectType({ description: 'What holds a scope: deleteScope is refused while either is above zero.' })
export class ScopeUsage {
  @Field(() => Int, { description: 'Owners whose ceiling holds it.' })
  ownerCeilings!: number;

  @Field(() => Int, { description: 'Active and suspended tokens that carry it.' })
  liveTokens!: number;
}
