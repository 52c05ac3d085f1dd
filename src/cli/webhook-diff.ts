// Policy-as-code for webhook endpoints, known by their URL. A new endpoint's signing secret goes
// where apply puts secrets. Endpoints the file leaves out are deleted by --prune only when the
// file has a webhooks section at all: a file written before webhooks could be declared keeps them.
import { CliError, ExitCode } from './errors';
import type { Change } from './change';
import { urlDigest } from '../platform/capability-url';
import { diffFields } from './diff-values';
import {
  CreateWebhookDocument,
  DeleteWebhookDocument,
  UpdateWebhookDocument,
  type WebhookFieldsFragment,
} from './generated/graphql';
import type { PolicyFile } from './policy-file';
import type { ServerState } from './server-state';

export function webhookChanges(file: PolicyFile, server: ServerState): Change[] {
  const changes: Change[] = [];
  file.webhooks.forEach((w, i) => {
    // A reader without WEBHOOK_WRITE sees URLs masked: the digest says which endpoint is this one.
    const digest = urlDigest(w.url);
    const matches = server.webhooks.filter((h) => h.urlDigest === digest);
    if (matches.length > 1)
      throw new CliError(
        `${file.where(['webhooks', i, 'url'])}: ${matches.length} webhooks on the server send to ${w.url}; delete the extra ones first`,
        ExitCode.INVALID,
      );
    const current = matches[0];
    if (!current) {
      changes.push({
        op: 'create',
        kind: 'webhook',
        name: w.url,
        fields: diffFields({}, { events: w.events, description: w.description, enabled: w.enabled ?? true }),
        issuesSecret: true,
        run: async ({ client }) => {
          const created = (
            await client.request(CreateWebhookDocument, { url: w.url, events: w.events, description: w.description })
          ).createWebhook;
          if (w.enabled === false)
            await client.request(UpdateWebhookDocument, { id: created.webhook.id, input: { enabled: false } });
          return { secret: created.signingSecret, webhookId: created.webhook.id };
        },
      });
      return;
    }
    const before = {
      events: [...current.events].sort(),
      description: current.description ?? null,
      enabled: current.status === 'ACTIVE',
    };
    const fields = diffFields(before, {
      events: w.events,
      description: w.description,
      enabled: w.enabled ?? before.enabled,
    });
    if (fields.length === 0) return;
    const enabled = fields.some((f) => f.field === 'enabled') ? w.enabled : undefined;
    changes.push({
      op: 'update',
      kind: 'webhook',
      name: w.url,
      fields,
      run: async ({ client }) => (
        await client.request(UpdateWebhookDocument, {
          id: current.id,
          input: { events: w.events, description: w.description ?? '', enabled },
        }),
        {}
      ),
    });
  });
  return changes;
}

/** Endpoints a file with a webhooks section does not list. */
export function webhookDeletions(file: PolicyFile, server: ServerState): Change[] {
  if (!file.managesWebhooks) return [];
  const declared = new Set(file.webhooks.map((w) => urlDigest(w.url)));
  return server.webhooks
    .filter((h: WebhookFieldsFragment) => !declared.has(h.urlDigest))
    .map((h) => ({
      op: 'delete',
      kind: 'webhook',
      name: h.url,
      fields: [],
      run: async ({ client }) => (await client.request(DeleteWebhookDocument, { id: h.id }), {}),
    }));
}
