import { ArrayMaxSize, IsOptional, Length } from 'class-validator';
import { ReuseAction } from './rotation-policy.entity';
import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { DurationScalar } from '../platform/duration';
import { RateLimitInput } from './rate-limit';

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

  @Field(() => RateLimitInput, {
    nullable: true,
    description: 'Applies to tokens under the policy that have no limit of their own.',
  })
  rateLimit?: RateLimitInput | null;

  @Field(() => ReuseAction, { nullable: true, description: 'Default NOTIFY.' })
  onReuse?: ReuseAction | null;
}

@ObjectType({
  description: 'What holds a rotation policy: deleteRotationPolicy is refused while either is above zero.',
})
export class PolicyUsage {
  @Field(() => Int, { description: 'Active and suspended tokens under it.' })
  liveTokens!: number;

  @Field(() => Int, { description: 'Managed credentials whose expiry warnings it times.' })
  credentials!: number;
}
