import { AuditEvent } from '../audit/audit-event.entity';
import {
  Arg,
  Authorized,
  Ctx,
  Extensions,
  FieldResolver,
  ID,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import { maskUrl, urlDigest } from '../platform/capability-url';
import { QUOTAS } from '../platform/quotas';
import { Permission } from '../iam/permissions';
import type { RequestContext } from '../iam/request-context';
import type { Connection } from '../platform/pagination';
import { Webhook, WebhookDelivery, WebhookDeliveryStatus } from './webhook.entity';
import type { WebhookService } from './webhook.service';
import type { WebhookDispatch } from './webhook-dispatch';
import { CreatedWebhook, UpdateWebhookInput, WebhookDeliveryConnection } from './webhook.types';

@Resolver(() => Webhook)
export class WebhookResolver {
  constructor(
    private readonly service: WebhookService,
    private readonly dispatch: WebhookDispatch,
  ) {}

  @FieldResolver(() => String, {
    description:
      'Where deliveries go; its origin alone for readers without WEBHOOK_WRITE (a path or query may carry a token).',
  })
  url(@Root() w: Webhook, @Ctx() ctx: RequestContext): string {
    return ctx.principal.permissions.has(Permission.WEBHOOK_WRITE) ? w.url : maskUrl(w.url);
  }

  @FieldResolver(() => String, {
    description: 'SHA-256 of the whole URL, hex: whether the endpoint sends to a URL you hold, without showing it.',
  })
  urlDigest(@Root() w: Webhook): string {
    return urlDigest(w.url);
  }

  @Authorized(Permission.WEBHOOK_READ)
  @Query(() => [Webhook])
  @Extensions({ maxItems: QUOTAS.webhooks })
  webhooks(@Ctx() ctx: RequestContext): Promise<Webhook[]> {
    return this.service.list(ctx.principal);
  }

  @Authorized(Permission.WEBHOOK_READ)
  @Query(() => Webhook, { nullable: true })
  webhook(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Webhook> {
    return this.service.get(ctx.principal, id);
  }

  @Authorized(Permission.WEBHOOK_READ)
  @Query(() => WebhookDeliveryConnection, {
    description: 'Deliveries of one endpoint; status DEAD lists the dead letters.',
  })
  webhookDeliveries(
    @Arg('webhookId', () => ID) webhookId: string,
    @Ctx() ctx: RequestContext,
    @Arg('status', () => WebhookDeliveryStatus, { nullable: true }) status?: WebhookDeliveryStatus,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<Connection<WebhookDelivery>> {
    return this.dispatch.deliveries(ctx.principal, webhookId, status, first, after);
  }

  @Authorized(Permission.WEBHOOK_WRITE)
  @Mutation(() => CreatedWebhook, {
    description: 'Audit events whose action is in events (or "*") are POSTed to url, signed per Standard Webhooks.',
  })
  createWebhook(
    @Arg('url') url: string,
    @Arg('events', () => [String]) events: string[],
    @Ctx() ctx: RequestContext,
    @Arg('description', () => String, { nullable: true }) description?: string,
  ): Promise<CreatedWebhook> {
    return this.service.create(ctx.principal, url, events, description);
  }

  @Authorized(Permission.WEBHOOK_WRITE)
  @Mutation(() => Webhook)
  updateWebhook(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateWebhookInput) input: UpdateWebhookInput,
    @Ctx() ctx: RequestContext,
  ): Promise<Webhook> {
    return this.service.update(ctx.principal, id, input);
  }

  @Authorized(Permission.WEBHOOK_WRITE)
  @Mutation(() => Webhook)
  disableWebhook(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Webhook> {
    return this.service.update(ctx.principal, id, { enabled: false });
  }

  @Authorized(Permission.WEBHOOK_WRITE)
  @Mutation(() => Boolean)
  deleteWebhook(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    return this.service.remove(ctx.principal, id);
  }

  @Authorized(Permission.WEBHOOK_WRITE)
  @Mutation(() => CreatedWebhook, {
    description: 'A new signing secret; the old one keeps signing beside it for 24 hours.',
  })
  rotateWebhookSecret(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<CreatedWebhook> {
    return this.service.rotateSecret(ctx.principal, id);
  }

  @Authorized(Permission.WEBHOOK_WRITE)
  @Mutation(() => AuditEvent, {
    description:
      'Sends a WEBHOOK_TESTED event to this endpoint only, signed and retried like any other; its delivery shows in webhookDeliveries.',
  })
  testWebhook(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<AuditEvent> {
    return this.service.test(ctx.principal, id);
  }

  @Authorized(Permission.WEBHOOK_WRITE)
  @Mutation(() => WebhookDelivery, { description: 'Sends a dead-lettered delivery again.' })
  retryWebhookDelivery(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<WebhookDelivery> {
    return this.dispatch.retry(ctx.principal, id);
  }
}
