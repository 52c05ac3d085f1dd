// A URL may carry a token (a Slack-style webhook, a rotator endpoint): readers who may not change
// it see it masked, with a digest; the audit log keeps only the masked form.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { urlDigest } from '../../src/platform/capability-url';
import { startTestApi, type TestApi } from '../helpers/api';
import { newPrincipal, newTenant, type PrincipalFixture, type TenantFixture } from '../helpers/fixtures';
import { CreateCredentialDocument } from '../generated/graphql';

let api: TestApi;
let t: TenantFixture;
let auditor: PrincipalFixture;
const HOOK = 'https://hooks.slack.example/services/T0000/B0000/capability-token-0000';
const ROTATOR = 'https://rotate.example.com/crm?token=capability-token-1111';

beforeAll(async () => {
  api = await startTestApi();
  t = await newTenant(api);
  auditor = await newPrincipal(api, t.adminToken, ['auditor']);
});
afterAll(() => api.close());

it('a webhook URL is whole for WEBHOOK_WRITE and masked for a reader, with the same digest; the audit log holds it masked', async () => {
  // A name that does not resolve yet is accepted at creation (every delivery resolves it again).
  const { createWebhook } = await api.ok(
    t.adminToken,
    `mutation($u: String!) { createWebhook(url: $u, events: ["TOKEN_REVOKED"]) { webhook { id url urlDigest } } }`,
    { u: HOOK },
  );
  expect(createWebhook.webhook).toMatchObject({ url: HOOK, urlDigest: urlDigest(HOOK) });
  const { webhooks } = await api.ok(auditor.token, `{ webhooks { id url urlDigest } }`);
  expect(webhooks).toEqual([
    { id: createWebhook.webhook.id, url: 'https://hooks.slack.example/…', urlDigest: urlDigest(HOOK) },
  ]);
  const events = await api.sql(`SELECT data FROM audit_events WHERE tenant_id = $1 AND target_id = $2`, [
    t.tenantId,
    createWebhook.webhook.id,
  ]);
  expect(JSON.stringify(events)).not.toContain('capability-token-0000');
  expect(events[0].data).toMatchObject({ url: 'https://hooks.slack.example/…', urlDigest: urlDigest(HOOK) });
  // Changing it: the audit log holds both sides masked.
  const moved = `${HOOK}-moved?k=capability-token-2222`;
  await api.ok(t.adminToken, `mutation($id: ID!, $u: String!) { updateWebhook(id: $id, input: { url: $u }) { id } }`, {
    id: createWebhook.webhook.id,
    u: moved,
  });
  const updated = await api.sql(
    `SELECT data FROM audit_events WHERE tenant_id = $1 AND target_id = $2 AND action = 'WEBHOOK_UPDATED'`,
    [t.tenantId, createWebhook.webhook.id],
  );
  expect(JSON.stringify(updated)).not.toMatch(/capability-token/);
  expect(updated[0].data).toEqual({
    before: { url: 'https://hooks.slack.example/…', urlDigest: urlDigest(HOOK) },
    after: { url: 'https://hooks.slack.example/…', urlDigest: urlDigest(moved) },
  });
});

it('a rotator URL is whole for CREDENTIAL_WRITE and masked for a reader; the audit log holds it masked', async () => {
  await api.ok(t.adminToken, CreateCredentialDocument, { input: { name: 'crm-rotated', value: 'v1' } });
  await api.ok(
    t.adminToken,
    `mutation($u: String!) { setCredentialRotator(name: "crm-rotated", input: { kind: WEBHOOK, url: $u, gracePeriod: "PT1H" }) { signingSecret } }`,
    { u: ROTATOR },
  );
  const read = async (token: string) =>
    (await api.ok(token, `{ credential(name: "crm-rotated") { id rotator } }`)).credential;
  expect((await read(t.adminToken)).rotator).toMatchObject({
    kind: 'WEBHOOK',
    url: ROTATOR,
    urlDigest: urlDigest(ROTATOR),
  });
  const seen = await read(auditor.token);
  expect(seen.rotator).toEqual({ kind: 'WEBHOOK', url: 'https://rotate.example.com/…', urlDigest: urlDigest(ROTATOR) });
  // A writer may not change a rotator it cannot read, so it sees it masked too.
  const role = (
    await api.ok(
      t.adminToken,
      `mutation { createRole(input: { name: "writer-reader", permissions: [CREDENTIAL_READ, CREDENTIAL_WRITE] }) { name } }`,
    )
  ).createRole.name;
  const writer = await newPrincipal(api, t.adminToken, [role]);
  expect((await read(writer.token)).rotator.url).toBe('https://rotate.example.com/…');
  const events = await api.sql(`SELECT data FROM audit_events WHERE tenant_id = $1 AND target_id = $2`, [
    t.tenantId,
    seen.id,
  ]);
  expect(JSON.stringify(events)).not.toContain('capability-token-1111');
});
