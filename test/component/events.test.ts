// Subscriptions over real graphql-ws clients against two API processes sharing one database and
// Redis: what happens through A reaches subscribers on B, per tenant and per permission, and a
// subscriber resuming from a seq gets every event once, in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlAt, metricsOf, startTestApi, type TestApi } from '../helpers/api';
import { createScopes, issue, newPrincipal, newTenant, type TenantFixture } from '../helpers/fixtures';
import { type LatchkeyProcess, spawnLatchkey } from '../helpers/process';
import { wsClient, type WsClient } from '../helpers/ws';
import {
  AuditEventCountDocument,
  CreateCredentialDocument,
  CreateScopeDocument,
  IssueTokenDocument,
  RevokeTokenDocument,
  TokensOfOwnerDocument,
} from '../generated/graphql';

let api: TestApi;
let a: LatchkeyProcess;
let b: LatchkeyProcess;
let t1: TenantFixture;
let t2: TenantFixture;
const clients: WsClient[] = [];

const LIFECYCLE = `subscription($after: Int, $kinds: [TokenLifecycleKind!], $owner: ID, $labels: JSONObject, $scope: String) {
  tokenLifecycle(afterSeq: $after, kinds: $kinds, ownerId: $owner, labels: $labels, scope: $scope) {
    kind seq at expiresAt token { id name status owner { id name } scopes { name } } } }`;

async function headSeq(token: string): Promise<number> {
  const { auditEvents } = await api.ok(token, AuditEventCountDocument);
  return auditEvents.totalCount;
}

/** GraphQL to one of the API processes. */
const on = (p: LatchkeyProcess) => graphqlAt(p.url!);

const client = (p: LatchkeyProcess, token: string) => {
  const c = wsClient(p.url!, token);
  clients.push(c);
  return c;
};

beforeAll(async () => {
  api = await startTestApi();
  t1 = await newTenant(api);
  t2 = await newTenant(api);
  for (const t of [t1, t2]) await createScopes(api, t.adminToken, ['crm:deals:read']);
  [a, b] = await Promise.all([spawnLatchkey({ LATCHKEY_ROLE: 'api' }), spawnLatchkey({ LATCHKEY_ROLE: 'api' })]);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await Promise.all([a?.stop(), b?.stop()]);
  await api?.close();
});

describe('token lifecycle subscriptions across replicas', () => {
  it('a mutation through A reaches a subscriber on B, with the token', async () => {
    const after = await headSeq(t1.adminToken);
    const sub = client(b, t1.adminToken).subscribe(LIFECYCLE, { after });
    const { issueToken } = await on(a).ok(t1.adminToken, IssueTokenDocument, {
      input: { ownerId: t1.adminId, name: 'from A', scopes: [] },
    });
    const [event] = await sub.until((r) => r.length >= 1);
    expect(event.tokenLifecycle).toMatchObject({
      kind: 'ISSUED',
      token: { id: issueToken.token.id, name: 'from A', status: 'ACTIVE', owner: { id: t1.adminId } },
    });
    expect(event.tokenLifecycle.seq).toBeGreaterThan(after);
    await on(a).ok(t1.adminToken, RevokeTokenDocument, { id: issueToken.token.id, reason: 'done' });
    const events = await sub.until((r) => r.length >= 2);
    expect(events[1].tokenLifecycle).toMatchObject({
      kind: 'REVOKED',
      token: { id: issueToken.token.id, status: 'REVOKED' },
    });
  });

  it("never shows one tenant's events to another", async () => {
    const sub2 = client(b, t2.adminToken).subscribe(LIFECYCLE, { after: await headSeq(t2.adminToken) });
    for (let i = 0; i < 5; i++)
      await on(a).ok(t1.adminToken, IssueTokenDocument, { input: { ownerId: t1.adminId, name: 't1', scopes: [] } });
    const mine = await issue(api, t2.adminToken, t2.adminId, []);
    const received = await sub2.until((r) => r.some((e) => e.tokenLifecycle.token.id === mine.id));
    expect(received.every((e) => e.tokenLifecycle.token.owner.id === t2.adminId)).toBe(true);
    expect(received).toHaveLength(1);
  });

  it('shows a developer only its own tokens, and filters by kind, owner, label and scope', async () => {
    const dev = await newPrincipal(api, t1.adminToken, ['developer'], ['crm:deals:read']);
    const other = await newPrincipal(api, t1.adminToken, ['developer'], ['crm:deals:read']);
    const after = await headSeq(t1.adminToken);
    const devSub = client(b, dev.token).subscribe(LIFECYCLE, { after });
    const labelled = client(b, t1.adminToken).subscribe(LIFECYCLE, {
      after,
      kinds: ['ISSUED'],
      labels: { team: 'crm' },
      scope: 'crm:deals:read',
    });
    await issue(api, t1.adminToken, other.ownerId, ['crm:deals:read'], { labels: { team: 'crm' } });
    const own = await issue(api, t1.adminToken, dev.ownerId, ['crm:deals:read'], { labels: { team: 'crm' } });
    await issue(api, t1.adminToken, dev.ownerId, [], { labels: { team: 'crm' } });
    const last = await issue(api, t1.adminToken, dev.ownerId, ['crm:deals:read'], { labels: { team: 'ops' } });
    const mine = await devSub.until((r) => r.some((e) => e.tokenLifecycle.token.id === last.id));
    expect(mine.map((e) => e.tokenLifecycle.token.owner.id).every((id: string) => id === dev.ownerId)).toBe(true);
    expect(mine).toHaveLength(3);
    const filtered = await labelled.until((r) => r.some((e) => e.tokenLifecycle.token.id === own.id));
    await new Promise((r) => setTimeout(r, 300));
    expect(filtered.map((e) => e.tokenLifecycle.token.id)).toHaveLength(2); // other's and own: labelled crm, with the scope
    expect(filtered.every((e) => e.tokenLifecycle.kind === 'ISSUED')).toBe(true);
  });

  it('takes labels written inline in the document as well as in variables', async () => {
    const after = await headSeq(t1.adminToken);
    const sub = client(b, t1.adminToken).subscribe(
      `subscription { tokenLifecycle(afterSeq: ${after}, labels: { widget: "inline" }) { kind token { id } } }`,
    );
    await issue(api, t1.adminToken, t1.adminId, [], { labels: { widget: 'other' } });
    const wanted = await issue(api, t1.adminToken, t1.adminId, [], { labels: { widget: 'inline' } });
    const received = await sub.until((r) => r.length >= 1);
    expect(received).toEqual([{ tokenLifecycle: { kind: 'ISSUED', token: { id: wanted.id } } }]);
    expect(sub.errors).toEqual([]);
  });

  it('executes an event once for all subscribers with the same view, and once more for another view', async () => {
    const t3 = await newTenant(api);
    const dev = await newPrincipal(api, t3.adminToken, ['developer'], []);
    const after = await headSeq(t3.adminToken);
    const admins = Array.from({ length: 5 }, () => client(b, t3.adminToken).subscribe(LIFECYCLE, { after }));
    const devSub = client(b, dev.token).subscribe(LIFECYCLE, { after });
    // Everyone is listening live once the first event has reached them all.
    const first = await issue(api, t3.adminToken, dev.ownerId, []);
    for (const s of [...admins, devSub]) await s.until((r) => r.some((e) => e.tokenLifecycle.token.id === first.id));

    const counters = async () => {
      const read = await metricsOf(b.url!);
      const of = (name: string) => read(`${name}{subscription="tokenLifecycle"}`);
      return {
        executions: of('latchkey_subscription_executions_total'),
        deliveries: of('latchkey_subscription_deliveries_total'),
      };
    };
    const before = await counters();
    const second = await issue(api, t3.adminToken, dev.ownerId, []);
    for (const s of [...admins, devSub]) await s.until((r) => r.some((e) => e.tokenLifecycle.token.id === second.id));
    const now = await counters();
    expect(now.deliveries - before.deliveries).toBe(6);
    expect(now.executions - before.executions).toBe(2); // the admins' view, and the developer's
    const payloads = admins.map((s) => JSON.stringify(s.received.at(-1)));
    expect(new Set(payloads).size).toBe(1);
    expect(devSub.received.at(-1)).toEqual(admins[0]!.received.at(-1));
  });
});

describe('audit event subscriptions', () => {
  it('resume from afterSeq while 500 events are written: every seq once, in order', async () => {
    const t = await newTenant(api);
    for (let i = 0; i < 20; i++) await api.ok(t.adminToken, CreateScopeDocument, { input: { name: `pre${i}:x:read` } });
    const from = 10;
    const writes = Array.from({ length: 500 }, (_, i) =>
      i % 2
        ? on(a).ok(t.adminToken, CreateScopeDocument, { input: { name: `w${i}:x:read` } })
        : api.ok(t.adminToken, CreateScopeDocument, { input: { name: `w${i}:x:read` } }),
    );
    await new Promise((r) => setTimeout(r, 50)); // some of the writes are committed, many are not
    const sub = client(b, t.adminToken).subscribe<{ auditEvents: { seq: number; action: string } }>(
      `subscription($after: Int) { auditEvents(afterSeq: $after) { seq action } }`,
      { after: from },
    );
    await Promise.all(writes);
    const head = await headSeq(t.adminToken);
    const received = await sub.until((r) => r.length >= head - from, 20_000);
    await new Promise((r) => setTimeout(r, 300));
    const seqs = received.map((e) => e.auditEvents.seq);
    expect(seqs).toEqual(Array.from({ length: head - from }, (_, i) => from + 1 + i));
  });

  it('filters by action and needs AUDIT_READ', async () => {
    const dev = await newPrincipal(api, t1.adminToken, ['developer']);
    const denied = client(b, dev.token).subscribe(`subscription { auditEvents { seq } }`);
    await denied.until(() => denied.errors.length > 0 || denied.completed, 5_000).catch(() => undefined);
    expect(JSON.stringify(denied.errors)).toContain('FORBIDDEN');
    const after = await headSeq(t1.adminToken);
    const sub = client(b, t1.adminToken).subscribe(
      `subscription($after: Int) { auditEvents(afterSeq: $after, actions: ["SCOPE_CREATED"]) { seq action } }`,
      { after },
    );
    await issue(api, t1.adminToken, t1.adminId, []);
    await api.ok(t1.adminToken, CreateScopeDocument, { input: { name: 'filtered:x:read' } });
    const [e] = await sub.until((r) => r.length >= 1);
    expect(e.auditEvents.action).toBe('SCOPE_CREATED');
  });
});

describe('live connections', () => {
  it('closes the socket with 4403 within a second when its token is revoked', async () => {
    const auditor = await newPrincipal(api, t1.adminToken, ['auditor']);
    const c = client(b, auditor.token);
    c.subscribe(`subscription { auditEvents { seq } }`);
    await new Promise((r) => setTimeout(r, 300));
    const { tokens } = await api.ok(t1.adminToken, TokensOfOwnerDocument, { ownerId: auditor.ownerId });
    const started = Date.now();
    await on(a).ok(t1.adminToken, RevokeTokenDocument, { id: tokens.edges[0].node.id, reason: 'left' });
    const closed = await Promise.race([c.closed, new Promise<null>((r) => setTimeout(() => r(null), 3_000))]);
    expect(closed?.code).toBe(4403);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('closes the socket when its token expires', async () => {
    const auditor = await newPrincipal(api, t1.adminToken, ['auditor']);
    const short = await issue(api, t1.adminToken, auditor.ownerId, [], {
      expiresAt: new Date(Date.now() + 1_500).toISOString(),
    });
    const c = client(b, short.secret);
    c.subscribe(`subscription { auditEvents { seq } }`);
    const closed = await Promise.race([c.closed, new Promise<null>((r) => setTimeout(() => r(null), 4_000))]);
    expect(closed?.code).toBe(4403);
  });

  it('refuses a connection without a valid token', async () => {
    const c = client(b, 'lk_nonsense');
    c.subscribe(`subscription { auditEvents { seq } }`);
    const closed = await Promise.race([c.closed, new Promise<null>((r) => setTimeout(() => r(null), 3_000))]);
    expect(closed?.code).toBe(4403);
  });
});

describe('expiringTokens', () => {
  it('sends the current list first, then the changes', async () => {
    const t = await newTenant(api);
    const soon = await issue(api, t.adminToken, t.adminId, [], {
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    await issue(api, t.adminToken, t.adminId, [], { expiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString() });
    const sub = client(b, t.adminToken).subscribe(
      `subscription { expiringTokens(within: "P1D") { initial tokens { id expiresAt } added removed } }`,
    );
    const [first] = await sub.until((r) => r.length >= 1);
    expect(first.expiringTokens).toMatchObject({
      initial: true,
      tokens: [{ id: soon.id }],
      added: [soon.id],
      removed: [],
    });
    const next = await issue(api, t.adminToken, t.adminId, [], {
      expiresAt: new Date(Date.now() + 7_200_000).toISOString(),
    });
    const [, second] = await sub.until((r) => r.length >= 2);
    expect(second.expiringTokens).toMatchObject({ initial: false, added: [next.id], removed: [] });
    expect(second.expiringTokens.tokens.map((x: { id: string }) => x.id)).toEqual([soon.id, next.id]);
    await api.ok(t.adminToken, RevokeTokenDocument, { id: soon.id, reason: 'x' });
    const [, , third] = await sub.until((r) => r.length >= 3);
    expect(third.expiringTokens).toMatchObject({ added: [], removed: [soon.id] });
  });

  it('lists managed credentials whose vendor expiry falls within the window, beside the tokens', async () => {
    const t = await newTenant(api);
    const soon = new Date(Date.now() + 3_600_000).toISOString();
    await api.ok(t.adminToken, CreateCredentialDocument, { input: { name: 'crm-key', value: 'v1', expiresAt: soon } });
    await api.ok(t.adminToken, CreateCredentialDocument, {
      input: { name: 'far-key', value: 'v1', expiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString() },
    });
    const sub = client(b, t.adminToken).subscribe(
      `subscription { expiringTokens(within: "P1D") { initial tokens { id } credentials { name version state expiresAt } } }`,
    );
    const [first] = await sub.until((r) => r.length >= 1);
    expect(first.expiringTokens).toMatchObject({
      initial: true,
      tokens: [],
      credentials: [{ name: 'crm-key', version: 1, state: 'CURRENT', expiresAt: soon }],
    });
    // A new version that does not expire soon: the list changes, the old one is there in its grace.
    await api.ok(
      t.adminToken,
      `mutation { addCredentialVersion(input: { name: "crm-key", value: "v2", gracePeriod: "PT1H" }) { version } }`,
    );
    const [, second] = await sub.until((r) => r.length >= 2);
    expect(second.expiringTokens.credentials).toEqual([
      { name: 'crm-key', version: 1, state: 'PREVIOUS', expiresAt: soon },
    ]);
    // Without CREDENTIAL_READ the list is empty.
    const dev = await newPrincipal(api, t.adminToken, ['developer']);
    const devSub = client(b, dev.token).subscribe(
      `subscription { expiringTokens(within: "P1D") { credentials { name } } }`,
    );
    const [devFirst] = await devSub.until((r) => r.length >= 1);
    expect(devFirst.expiringTokens.credentials).toEqual([]);
  });
});
