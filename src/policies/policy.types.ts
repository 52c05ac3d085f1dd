import { ArrayMaxSize, IsOptional, Length } from 'class-validator';
import { Field, InputType } from 'type-graphql';
import { DurationScalar } from '../platform/duration';

@InputType()
export class RotationPolicyInput {
  @Field()
  @Length(1, 200)
  name!: string;

  @Field(() => DurationScalar, { nullable: true })
  rotateEvery?: number | null;

  @Field(() => DurationScalar)
  gracePeriod!: number;

  @Field(() => DurationScalar, { nullable: true })
  expireAfter?: number | null;

  @Field(() => [DurationScalar], { nullable: true })
  @IsOptional()
  @ArrayMaxSize(10)
  notifyBefore?: number[] | null;
}
