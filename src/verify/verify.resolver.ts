import { Arg, Authorized, Ctx, Query, Resolver } from 'type-graphql';
import { Permission } from '../iam/permissions';
import type { RequestContext } from '../iam/request-context';
import type { Verifier } from './verifier';
import { VerifyResult } from './verify.types';

@Resolver()
export class VerifyResolver {
  constructor(private readonly service: Verifier) {}

  @Authorized(Permission.TOKEN_VERIFY)
  @Query(() => VerifyResult)
  verifyToken(
    @Arg('secret') secret: string,
    @Ctx() ctx: RequestContext,
    @Arg('requiredScopes', () => [String], { nullable: true }) requiredScopes?: string[],
    @Arg('clientIp', () => String, {
      nullable: true,
      description: "The end user's address, for tokens bound to networks.",
    })
    clientIp?: string,
  ): Promise<VerifyResult> {
    return this.service.verify(secret, requiredScopes, ctx.principal.tenantId, clientIp);
  }
}
