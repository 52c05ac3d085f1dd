import { Max, Min } from 'class-validator';
import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { DurationScalar } from '../platform/duration';

@ObjectType({ description: 'At most `requests` successful verifications per window of length `per`, across every replica.' })
export class RateLimit {
  @Field(() => Int)
  requests!: number;

  @Field(() => DurationScalar)
  per!: number;
}

@InputType()
export class RateLimitInput {
  @Field(() => Int)
  @Min(1)
  @Max(1_000_000_000)
  requests!: number;

  @Field(() => DurationScalar, { description: 'The window, from PT1S to P1D.' })
  per!: number;
}

/** The limit of a row's (rate_limit, rate_window_s) pair, or null. */
export function rateLimitOf(row: { rateRequests: number | null; rateWindow: number | null }): RateLimit | null {
  return row.rateRequests && row.rateWindow ? { requests: row.rateRequests, per: row.rateWindow } : null;
}
