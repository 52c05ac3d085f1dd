// Lists: Relay connections over a stable order, filters, and a constant number of queries per page.
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api';
import { createScopes, issue, newTenant, type TenantFixture } from '../helpers/fixtures';
import { CreateOwnerDocument } from '../generated/graphql';

let api: TestApi;
let t: TenantFixture;
let ownerId: string;
let ids: string[] = [];

const PAGE = `query($f: TokenFilter, $first: Int, $after: String) {
  tokens(filter: $f, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id name } } } }`;

beforeAll(async () => {
  api = await startTestApi();
  t = await newTenant(api);
  await createScopes(api, t.adminToken, ['crm:deals:read', 'helpdesk:tickets:read']);
  ownerId = (
    await api.ok(t.adminToken, CreateOwnerDocument, {
      input: { kind: 'SERVICE', name: 'svc', allowedScopes: ['crm:deals:read', 'helpdesk:tickets:read'] },
    })
  ).createOwner.id;
  for (let i = 0; i < 25; i++) {
    const scopes = i % 2 ? ['crm:deals:read'] : ['helpdesk:tickets:read'];
    const extra = {
      labels: { parity: i % 2 ? 'odd' : 'even', n: String(i) },
      ...(i < 5 ? { expiresAt: new Date(Date.now() + 86_400_000 * (i + 1)).toISOString() } : {}),
    };
    ids.push((await issue(api, t.adminToken, ownerId, scopes, extra)).id);
  }
});
afterAll(() => api.close());

describe('pagination', () => {
  it('walks every token once, in creation order, with opaque cursors', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const { tokens }: { tokens: any } = await api.ok(t.adminToken, PAGE, { f: { ownerId }, first: 10, after });
      expect(tokens.totalCount).toBe(25);
      seen.push(...tokens.edges.map((e: { node: { id: string } }) => e.node.id));
      for (const e of tokens.edges) expect(e.cursor).not.toContain(e.node.id);
      pages++;
      if (!tokens.pageInfo.hasNextPage) {
        expect(tokens.pageInfo.endCursor).toBe(tokens.edges.at(-1).cursor);
        break;
      }
      after = tokens.pageInfo.endCursor;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(ids);
  });

  it('handles the edges: default 20, first 0, exactly one page, past the end', async () => {
    const all = await api.ok(t.adminToken, PAGE, { f: { ownerId } });
    expect(all.tokens.edges).toHaveLength(20);
    expect(all.tokens.pageInfo.hasNextPage).toBe(true);
    const none = await api.ok(t.adminToken, PAGE, { f: { ownerId }, first: 0 });
    expect(none.tokens).toMatchObject({ edges: [], totalCount: 25, pageInfo: { hasNextPage: true, endCursor: null } });
    const exact = await api.ok(t.adminToken, PAGE, { f: { ownerId }, first: 25 });
    expect(exact.tokens.pageInfo.hasNextPage).toBe(false);
    const past = await api.ok(t.adminToken, PAGE, { f: { ownerId }, first: 5, after: exact.tokens.pageInfo.endCursor });
    expect(past.tokens.edges).toEqual([]);
    expect(past.tokens.pageInfo).toEqual({ hasNextPage: false, endCursor: null });
  });

  it('stays stable while rows are added during the walk', async () => {
    const first = await api.ok(t.adminToken, PAGE, { f: { ownerId }, first: 10 });
    await issue(api, t.adminToken, ownerId, [], { labels: { late: 'yes' } });
    const second = await api.ok(t.adminToken, PAGE, {
      f: { ownerId },
      first: 10,
      after: first.tokens.pageInfo.endCursor,
    });
    expect(second.tokens.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual(ids.slice(10, 20));
  });
});

describe('filters', () => {
  const count = async (f: Record<string, unknown>) =>
    (await api.ok(t.adminToken, PAGE, { f: { ownerId, ...f }, first: 100 })).tokens.totalCount;

  it('by scope, labels, expiry, status and name', async () => {
    expect(await count({ scope: 'crm:deals:read' })).toBe(12);
    expect(await count({ labels: { parity: 'even' } })).toBe(13);
    expect(await count({ labels: { parity: 'even', n: '4' } })).toBe(1);
    expect(await count({ expiresBefore: new Date(Date.now() + 86_400_000 * 3.5).toISOString() })).toBe(3);
    expect(await count({ status: ['ACTIVE'] })).toBeGreaterThanOrEqual(25);
    expect(await count({ status: ['REVOKED'] })).toBe(0);
    const { token } = await api.ok(t.adminToken, `query($id: ID!) { token(id: $id) { name } }`, { id: ids[7] });
    expect(await count({ search: token.name.slice(-6).toUpperCase() })).toBe(1);
    expect(await count({ search: '%' })).toBe(0);
  });
});

describe('DataLoader', () => {
  it('loads a page with owner, scopes, secrets and policy in a constant number of queries', async () => {
    const deep = `query($o: ID!, $first: Int) { tokens(filter: { ownerId: $o }, first: $first) { edges { node {
      id owner { id name roles { name } allowedScopes { name } } scopes { name } secrets { hint state } rotationPolicy { name } } } } }`;
    const spy = vi.spyOn(Client.prototype, 'query');
    // Background work of the same process (usage flushes, the relay, change polls) also queries:
    // it can only add, so the fewest queries seen over three runs is the page's own count.
    const queriesFor = async (first: number) => {
      let fewest = Infinity;
      for (let run = 0; run < 3; run++) {
        spy.mockClear();
        const page = await api.ok(t.adminToken, deep, { o: ownerId, first });
        expect(page.tokens.edges).toHaveLength(Math.min(first, 26));
        fewest = Math.min(fewest, spy.mock.calls.length);
      }
      return fewest;
    };
    try {
      const small = await queriesFor(2);
      expect(await queriesFor(26)).toBe(small);
      expect(small).toBeGreaterThan(3);
      expect(small).toBeLessThan(20);
    } finally {
      spy.mockRestore();
    }
  });
});
