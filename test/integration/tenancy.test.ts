// Tenants are isolated absolutely: another tenant's id answers exactly as a missing id does,
// and nothing of the other tenant is read or changed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/platform/ids';
import { startTestApi, type TestApi } from '../helpers/api';
import { createScopes, issue, newTenant, roleId, type TenantFixture } from '../helpers/fixtures';
import { CreateOwnerDocument, CreateRoleDocument, CreateRotationPolicyDocument } from '../generated/graphql';

let api: TestApi;
let a: TenantFixture;
let b: TenantFixture;
const theirs = {} as { owner: string; token: string; secret: string; role: string; customRole: string; policy: string };
let mine: { owner: string; token: string; policy: string; role: string };

beforeAll(async () => {
  api = await startTestApi();
  a = await newTenant(api);
  b = await newTenant(api);
  for (const t of [a, b]) await createScopes(api, t.adminToken, ['crm:deals:read']);
  const o = (
    await api.ok(b.adminToken, CreateOwnerDocument, {
      input: { kind: 'SERVICE', name: 'b-svc', allowedScopes: ['crm:deals:read'] },
    })
  ).createOwner.id;
  const tok = await issue(api, b.adminToken, o, ['crm:deals:read']);
  Object.assign(theirs, {
    owner: o,
    token: tok.id,
    secret: tok.secret,
    role: await roleId(api, b.adminToken, 'auditor'),
    customRole: (
      await api.ok(b.adminToken, CreateRoleDocument, { input: { name: 'b-role', permissions: ['TOKEN_READ'] } })
    ).createRole.id,
    policy: (
      await api.ok(b.adminToken, CreateRotationPolicyDocument, { input: { name: 'b-policy', gracePeriod: 'PT1H' } })
    ).createRotationPolicy.id,
  });
  const mo = (
    await api.ok(a.adminToken, CreateOwnerDocument, {
      input: { kind: 'SERVICE', name: 'a-svc', allowedScopes: ['crm:deals:read'] },
    })
  ).createOwner.id;
  mine = {
    owner: mo,
    token: (await issue(api, a.adminToken, mo, [])).id,
    policy: (
      await api.ok(a.adminToken, CreateRotationPolicyDocument, { input: { name: 'a-policy', gracePeriod: 'PT1H' } })
    ).createRotationPolicy.id,
    role: await roleId(api, a.adminToken, 'auditor'),
  };
});
afterAll(() => api.close());

const snapshot = async () =>
  JSON.stringify(
    await api.sql(
      `SELECT (SELECT json_agg(t ORDER BY id) FROM tokens t WHERE tenant_id = $1) AS tokens,
              (SELECT json_agg(s ORDER BY id) FROM token_secrets s WHERE tenant_id = $1) AS secrets,
              (SELECT json_agg(o ORDER BY id) FROM owners o WHERE tenant_id = $1) AS owners,
              (SELECT json_agg(r ORDER BY id) FROM roles r WHERE tenant_id = $1) AS roles,
              (SELECT json_agg(p ORDER BY id) FROM rotation_policies p WHERE tenant_id = $1) AS policies,
              (SELECT json_agg(x ORDER BY owner_id, role_id) FROM role_bindings x WHERE tenant_id = $1) AS bindings,
              (SELECT max(seq) FROM audit_events WHERE tenant_id = $1) AS audit`,
      [b.tenantId],
    ),
  );

type Op = (ids: typeof theirs) => { query: string; variables: Record<string, unknown> };

const OPS: Record<string, Op> = {
  owner: (x) => ({ query: `query($id: ID!) { owner(id: $id) { id } }`, variables: { id: x.owner } }),
  token: (x) => ({ query: `query($id: ID!) { token(id: $id) { id } }`, variables: { id: x.token } }),
  rotationPolicy: (x) => ({ query: `query($id: ID!) { rotationPolicy(id: $id) { id } }`, variables: { id: x.policy } }),
  updateOwner: (x) => ({
    query: `mutation($id: ID!) { updateOwner(id: $id, input: { name: "pwned" }) { id } }`,
    variables: { id: x.owner },
  }),
  'assignRole (their owner)': (x) => ({
    query: `mutation($o: ID!, $r: ID!) { assignRole(ownerId: $o, roleId: $r) { id } }`,
    variables: { o: x.owner, r: mine.role },
  }),
  'assignRole (their role)': (x) => ({
    query: `mutation($o: ID!, $r: ID!) { assignRole(ownerId: $o, roleId: $r) { id } }`,
    variables: { o: mine.owner, r: x.role },
  }),
  unassignRole: (x) => ({
    query: `mutation($o: ID!, $r: ID!) { unassignRole(ownerId: $o, roleId: $r) { id } }`,
    variables: { o: x.owner, r: x.role },
  }),
  updateRole: (x) => ({
    query: `mutation($id: ID!) { updateRole(id: $id, input: { permissions: [AUDIT_READ] }) { id } }`,
    variables: { id: x.customRole },
  }),
  updateRotationPolicy: (x) => ({
    query: `mutation($id: ID!) { updateRotationPolicy(id: $id, input: { name: "pwned", gracePeriod: "PT0S" }) { id } }`,
    variables: { id: x.policy },
  }),
  'issueToken (their owner)': (x) => ({
    query: `mutation($o: ID!) { issueToken(input: { ownerId: $o, name: "x", scopes: [] }) { secret } }`,
    variables: { o: x.owner },
  }),
  'issueToken (their policy)': (x) => ({
    query: `mutation($o: ID!, $p: ID!) { issueToken(input: { ownerId: $o, name: "x", scopes: [], rotationPolicyId: $p }) { secret } }`,
    variables: { o: mine.owner, p: x.policy },
  }),
  rotateToken: (x) => ({ query: `mutation($id: ID!) { rotateToken(id: $id) { secret } }`, variables: { id: x.token } }),
  revokeToken: (x) => ({
    query: `mutation($id: ID!) { revokeToken(id: $id, reason: "x") { id } }`,
    variables: { id: x.token },
  }),
  suspendToken: (x) => ({
    query: `mutation($id: ID!) { suspendToken(id: $id, reason: "x") { id } }`,
    variables: { id: x.token },
  }),
  resumeToken: (x) => ({ query: `mutation($id: ID!) { resumeToken(id: $id) { id } }`, variables: { id: x.token } }),
  updateToken: (x) => ({
    query: `mutation($id: ID!) { updateToken(id: $id, input: { name: "pwned" }) { id } }`,
    variables: { id: x.token },
  }),
  'setTokenPolicy (their token)': (x) => ({
    query: `mutation($id: ID!, $p: ID) { setTokenPolicy(id: $id, rotationPolicyId: $p) { id } }`,
    variables: { id: x.token, p: mine.policy },
  }),
  'setTokenPolicy (their policy)': (x) => ({
    query: `mutation($id: ID!, $p: ID) { setTokenPolicy(id: $id, rotationPolicyId: $p) { id } }`,
    variables: { id: mine.token, p: x.policy },
  }),
};

describe('cross-tenant ids answer NOT_FOUND exactly as missing ids do', () => {
  for (const [name, op] of Object.entries(OPS)) {
    it(name, async () => {
      const before = await snapshot();
      const cross = op(theirs);
      const r1 = await api.gql(a.adminToken, cross.query, cross.variables);
      const missing = Object.fromEntries(Object.keys(theirs).map((k) => [k, uuidv7()])) as typeof theirs;
      const m = op(missing);
      const r2 = await api.gql(a.adminToken, m.query, m.variables);
      expect(r1.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      expect(r2.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      const shape = (r: typeof r1, ids: Record<string, string>) =>
        JSON.stringify({
          ...r,
          errors: r.errors?.map((e) => ({ ...e, extensions: { ...e.extensions, id: 'ID' } })),
        }).replace(new RegExp(Object.values(ids).join('|'), 'g'), 'ID');
      expect(shape(r1, theirs)).toBe(shape(r2, missing));
      expect(await snapshot()).toBe(before);
    });
  }

  it('lists, filters and bulk revocation never reach another tenant', async () => {
    const before = await snapshot();
    const { tokens } = await api.ok(a.adminToken, `query($o: ID!) { tokens(filter: { ownerId: $o }) { totalCount } }`, {
      o: theirs.owner,
    });
    expect(tokens.totalCount).toBe(0);
    const { revokeTokens } = await api.ok(
      a.adminToken,
      `mutation($o: ID!) { revokeTokens(filter: { ownerId: $o }, reason: "x") { count } }`,
      { o: theirs.owner },
    );
    expect(revokeTokens.count).toBe(0);
    const { auditEvents } = await api.ok(
      a.adminToken,
      `query($id: ID!) { auditEvents(filter: { targetId: $id }) { totalCount } }`,
      { id: theirs.token },
    );
    expect(auditEvents.totalCount).toBe(0);
    const { owners } = await api.ok(a.adminToken, `{ owners(first: 100) { edges { node { id } } } }`);
    expect(owners.edges.map((e: { node: { id: string } }) => e.node.id)).not.toContain(theirs.owner);
    expect(await snapshot()).toBe(before);
  });

  it("verifying another tenant's secret answers NOT_FOUND and reveals nothing", async () => {
    const { verifyToken } = await api.ok(
      a.adminToken,
      `query($s: String!) { verifyToken(secret: $s) { valid failure tokenId ownerId tenantId scopes } }`,
      { s: theirs.secret },
    );
    expect(verifyToken).toEqual({
      valid: false,
      failure: 'NOT_FOUND',
      tokenId: null,
      ownerId: null,
      tenantId: null,
      scopes: [],
    });
  });
});
