import { Arg, Authorized, Ctx, Int, Query, Resolver } from 'type-graphql';
import { Permission } from '../iam/permissions';
import type { RequestContext } from '../iam/request-context';
import type { Connection } from '../platform/pagination';
import { AuditEvent } from './audit-event.entity';
import type { AuditService, ChainReport } from './audit.service';
import { AuditChainReport, AuditEventConnection, AuditFilter } from './audit.types';

@Resolver(() => AuditEvent)
export class AuditResolver {
  constructor(private readonly service: AuditService) {}

  @Authorized(Permission.AUDIT_READ)
  @Query(() => AuditEventConnection)
  auditEvents(
    @Ctx() ctx: RequestContext,
    @Arg('filter', () => AuditFilter, { nullable: true }) filter?: AuditFilter,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<Connection<AuditEvent>> {
    return this.service.list(ctx.principal, filter, first, after);
  }

  @Authorized(Permission.AUDIT_READ)
  @Query(() => AuditChainReport)
  verifyAuditChain(@Ctx() ctx: RequestContext): Promise<ChainReport> {
    return this.service.verifyChain(ctx.principal.tenantId);
  }
}
