import { ArrayMaxSize, IsOptional, Matches, MaxLength } from 'class-validator';
import { Field, InputType } from 'type-graphql';
import { Permission } from '../iam/permissions';

@InputType()
export class CreateRoleInput {
  @Field()
  @Matches(/^[a-z][a-z0-9-]{0,62}$/, {
    message: 'name must be lower-case letters, digits and "-", starting with a letter',
  })
  name!: string;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @MaxLength(1000)
  description?: string | null;

  @Field(() => [Permission])
  @ArrayMaxSize(50)
  permissions!: Permission[];
}

@InputType({ description: 'Fields left out stay as they are.' })
export class UpdateRoleInput {
  @Field(() => String, { nullable: true })
  @IsOptional()
  @MaxLength(1000)
  description?: string | null;

  @Field(() => [Permission], { nullable: true })
  @IsOptional()
  @ArrayMaxSize(50)
  permissions?: Permission[] | null;
}
