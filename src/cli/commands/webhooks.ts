// latchkey webhooks list|create|disable|enable|delete|test|rotate-secret|deliveries
import type { Command } from 'commander';
import { collect, confirm, contextOf, countArg } from '../context';
import {
  CreateWebhookDocument,
  DeleteWebhookDocument,
  RotateWebhookSecretDocument,
  TestWebhookDocument,
  UpdateWebhookDocument,
  WebhookDeliveriesDocument,
  type WebhookDeliveryStatus,
  WebhooksDocument,
} from '../generated/graphql';
import { usage } from '../errors';

const COLUMNS = ['id', 'url', 'events', 'status', 'description'];

export function webhookCommands(program: Command): void {
  const webhooks = program
    .command('webhooks')
    .description('endpoints that receive audit events, signed as Standard Webhooks');

  webhooks
    .command('list')
    .description('every endpoint of the tenant')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const { webhooks: list } = await ctx.client.request(WebhooksDocument);
      ctx.out.result(list, () => ctx.out.table(list, COLUMNS));
    });

  webhooks
    .command('create <url>')
    .description('an endpoint for these audit actions ("*" for all); its signing secret is printed once')
    .option('--event <action>', 'an audit action, e.g. TOKEN_EXPIRING (repeatable)', collect)
    .option('--description <text>', 'what it is for')
    .addHelpText(
      'after',
      '\nExample:\n  $ latchkey webhooks create https://hooks.example.com/latchkey --event TOKEN_EXPIRING --event CREDENTIAL_ROTATION_FAILED',
    )
    .action(async (url: string, o: { event?: string[]; description?: string }, cmd: Command) => {
      if (!o.event?.length) throw usage('name at least one --event (an audit action, or "*" for all)');
      const ctx = contextOf(cmd);
      const { createWebhook } = await ctx.client.request(CreateWebhookDocument, {
        url,
        events: o.event,
        description: o.description,
      });
      ctx.out.result(createWebhook, () => {
        ctx.out.record(createWebhook.webhook);
        ctx.out.line(`signing secret: ${createWebhook.signingSecret}`);
        ctx.out.note('The signing secret is shown once: give it to the receiver now.');
      });
    });

  for (const [name, enabled] of [
    ['disable', false],
    ['enable', true],
  ] as const) {
    webhooks
      .command(`${name} <id>`)
      .description(`${name} an endpoint`)
      .action(async (id: string, _o: unknown, cmd: Command) => {
        const ctx = contextOf(cmd);
        const { updateWebhook } = await ctx.client.request(UpdateWebhookDocument, { id, input: { enabled } });
        ctx.out.result(updateWebhook, () => ctx.out.line(`${id}: ${updateWebhook.status.toLowerCase()}`));
      });
  }

  webhooks
    .command('delete <id>')
    .description('delete an endpoint and its pending deliveries')
    .option('-y, --yes', 'without asking')
    .action(async (id: string, o: { yes?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      if (!o.yes && !(await confirm(`Delete webhook ${id}?`, 'delete a webhook'))) return;
      await ctx.client.request(DeleteWebhookDocument, { id });
      ctx.out.result({ id, deleted: true }, () => ctx.out.line(`${id}: deleted`));
    });

  webhooks
    .command('test <id>')
    .description('send the endpoint a WEBHOOK_TESTED event')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const { testWebhook } = await ctx.client.request(TestWebhookDocument, { id });
      ctx.out.result(testWebhook, () =>
        ctx.out.line(`${id}: test event ${testWebhook.seq} sent; see \`latchkey webhooks deliveries ${id}\``),
      );
    });

  webhooks
    .command('rotate-secret <id>')
    .description('a new signing secret, printed once; deliveries carry both signatures for a day')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const { rotateWebhookSecret } = await ctx.client.request(RotateWebhookSecretDocument, { id });
      ctx.out.result(rotateWebhookSecret, () => ctx.out.line(`signing secret: ${rotateWebhookSecret.signingSecret}`));
    });

  webhooks
    .command('deliveries <id>')
    .description("an endpoint's deliveries; --status DEAD lists the dead letters")
    .option('--status <status>', 'PENDING, DELIVERED or DEAD')
    .option('--limit <n>', 'at most this many', countArg, 100)
    .action(async (id: string, o: { status?: string; limit: number }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const status = o.status?.toUpperCase() as WebhookDeliveryStatus | undefined;
      const rows: Array<Record<string, unknown>> = [];
      for await (const d of ctx.client.pages(
        async (after) =>
          (await ctx.client.request(WebhookDeliveriesDocument, { webhookId: id, status, first: 100, after }))
            .webhookDeliveries,
      )) {
        rows.push(d);
        if (rows.length >= o.limit) break;
      }
      ctx.out.result(rows, () =>
        ctx.out.table(rows, [
          'id',
          'eventSeq',
          'eventAction',
          'status',
          'attempts',
          'lastStatus',
          'lastError',
          'deliveredAt',
        ]),
      );
    });
}
