// Rate limits: the API's types, and what makes one valid. Set on a policy (for the tokens under it) or on a token.
import { Max, Min } from 'class-validator';
import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { DurationScalar } from '../platform/duration';
import { badInput } from '../platform/errors';

@ObjectType({
  description: 'At most `requests` successful verifications per window of length `per`, across every replica.',
})
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

/** A rate limit must make sense: at least one request, over a window from a second to a day. */
export function validRateLimit(l: RateLimitInput): { requests: number; per: number } {
  if (!Number.isInteger(l.requests) || l.requests < 1)
    throw badInput('rateLimit.requests must be at least 1', { argument: 'rateLimit' });
  if (l.per < 1 || l.per > 86_400) throw badInput('rateLimit.per must be from PT1S to P1D', { argument: 'rateLimit' });
  return { requests: l.requests, per: l.per };
}
