// Every built-in role against every mutation and query: allowed, or FORBIDDEN with nothing written.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api';
import { createScopes, issue, newPrincipal, newTenant, roleId, type TenantFixture, unique } from '../helpers/fixtures';
import {
  AssignRoleDocument,
  CreateOwnerDocument,
  CreateRoleDocument,
  CreateRotationPolicyDocument,
  IssueTokenDocument,
  SuspendTokenDocument,
  UnassignRoleDocument,
} from '../generated/graphql';

type Role = 'admin' | 'operator' | 'auditor' | 'developer' | 'gateway';
const ROLES: Role[] = ['admin', 'operator', 'auditor', 'developer', 'gateway'];

let api: TestApi;
let t: TenantFixture;
let serviceOwner: string;
let policyId: string;
let auditorRole: string;
const principals = {} as Record<Role, { ownerId: string; token: string }>;

beforeAll(async () => {
  api = await startTestApi();
  t = await newTenant(api);
  await createScopes(api, t.adminToken, ['crm:deals:read', 'crm:deals:write']);
  for (const role of ROLES) principals[role] = await newPrincipal(api, t.adminToken, [role], ['crm:deals:read']);
  serviceOwner = (
    await api.ok(t.adminToken, CreateOwnerDocument, {
      input: { kind: 'SERVICE', name: 'svc', allowedScopes: ['crm:deals:read'] },
    })
  ).createOwner.id;
  policyId = (await api.ok(t.adminToken, CreateRotationPolicyDocument, { input: { name: 'p', gracePeriod: 'PT1H' } }))
    .createRotationPolicy.id;
  auditorRole = await roleId(api, t.adminToken, 'auditor');
});
afterAll(() => api.close());

/** A token the role may act on: its own for a developer, a service's for everyone else. */
async function targetFor(role: Role) {
  const owner = role === 'developer' ? principals.developer.ownerId : serviceOwner;
  return issue(api, t.adminToken, owner, ['crm:deals:read'], { labels: { matrix: unique('m') } });
}

interface Case {
  build(role: Role): Promise<{ query: string; variables?: Record<string, unknown> }>;
  allowed: Role[];
}

const MUTATIONS: Record<string, Case> = {
  createTenant: {
    allowed: [],
    build: async () => ({
      query: `mutation($n: String!) { createTenant(input: { name: $n, adminName: "a" }) { tenant { id } } }`,
      variables: { n: unique('t') },
    }),
  },
  createOwner: {
    allowed: ['admin'],
    build: async () => ({
      query: `mutation($n: String!) { createOwner(input: { kind: USER, name: $n }) { id } }`,
      variables: { n: unique('o') },
    }),
  },
  updateOwner: {
    allowed: ['admin'],
    build: async () => ({
      query: `mutation($id: ID!, $n: String!) { updateOwner(id: $id, input: { name: $n }) { id } }`,
      variables: { id: serviceOwner, n: unique('svc') },
    }),
  },
  createRole: {
    allowed: ['admin'],
    build: async () => ({
      query: `mutation($n: String!) { createRole(input: { name: $n, permissions: [TOKEN_READ] }) { id } }`,
      variables: { n: unique('r') },
    }),
  },
  assignRole: {
    allowed: ['admin'],
    build: async () => {
      const o = (await api.ok(t.adminToken, CreateOwnerDocument, { input: { kind: 'USER', name: unique('o') } }))
        .createOwner.id;
      return {
        query: `mutation($o: ID!, $r: ID!) { assignRole(ownerId: $o, roleId: $r) { id } }`,
        variables: { o, r: auditorRole },
      };
    },
  },
  unassignRole: {
    allowed: ['admin'],
    build: async () => {
      const p = await newPrincipal(api, t.adminToken, ['auditor']);
      return {
        query: `mutation($o: ID!, $r: ID!) { unassignRole(ownerId: $o, roleId: $r) { id } }`,
        variables: { o: p.ownerId, r: auditorRole },
      };
    },
  },
  createScope: {
    allowed: ['admin'],
    build: async () => ({
      query: `mutation($n: String!) { createScope(input: { name: $n }) { id } }`,
      variables: { n: `${unique('svc')}:x:read` },
    }),
  },
  createRotationPolicy: {
    allowed: ['admin', 'operator'],
    build: async () => ({
      query: `mutation($n: String!) { createRotationPolicy(input: { name: $n, gracePeriod: "PT1H" }) { id } }`,
      variables: { n: unique('p') },
    }),
  },
  updateRotationPolicy: {
    allowed: ['admin', 'operator'],
    build: async () => ({
      query: `mutation($id: ID!, $n: String!) { updateRotationPolicy(id: $id, input: { name: $n, gracePeriod: "PT2H" }) { id } }`,
      variables: { id: policyId, n: unique('p') },
    }),
  },
  issueToken: {
    allowed: ['admin', 'operator', 'developer'],
    build: async (role) => ({
      query: `mutation($o: ID!) { issueToken(input: { ownerId: $o, name: "m", scopes: ["crm:deals:read"] }) { secret } }`,
      variables: { o: role === 'developer' ? principals.developer.ownerId : serviceOwner },
    }),
  },
  rotateToken: {
    allowed: ['admin', 'operator', 'developer'],
    build: async (role) => ({
      query: `mutation($id: ID!) { rotateToken(id: $id) { secret } }`,
      variables: { id: (await targetFor(role)).id },
    }),
  },
  revokeToken: {
    allowed: ['admin', 'operator', 'developer'],
    build: async (role) => ({
      query: `mutation($id: ID!) { revokeToken(id: $id, reason: "m") { id } }`,
      variables: { id: (await targetFor(role)).id },
    }),
  },
  revokeTokens: {
    allowed: ['admin', 'operator', 'developer'],
    build: async (role) => {
      const target = await targetFor(role);
      const { token } = await api.ok(t.adminToken, `query($id: ID!) { token(id: $id) { labels } }`, { id: target.id });
      return {
        query: `mutation($l: JSONObject!) { revokeTokens(filter: { labels: $l }, reason: "m") { count } }`,
        variables: { l: token.labels },
      };
    },
  },
  suspendToken: {
    allowed: ['admin', 'operator', 'developer'],
    build: async (role) => ({
      query: `mutation($id: ID!) { suspendToken(id: $id, reason: "m") { id } }`,
      variables: { id: (await targetFor(role)).id },
    }),
  },
  resumeToken: {
    allowed: ['admin', 'operator', 'developer'],
    build: async (role) => {
      const target = await targetFor(role);
      await api.ok(t.adminToken, SuspendTokenDocument, { id: target.id, reason: 'm' });
      return { query: `mutation($id: ID!) { resumeToken(id: $id) { id } }`, variables: { id: target.id } };
    },
  },
  updateToken: {
    allowed: ['admin', 'operator', 'developer'],
    build: async (role) => ({
      query: `mutation($id: ID!) { updateToken(id: $id, input: { name: "renamed" }) { id } }`,
      variables: { id: (await targetFor(role)).id },
    }),
  },
  setTokenPolicy: {
    allowed: ['admin', 'operator', 'developer'],
    build: async (role) => ({
      query: `mutation($id: ID!, $p: ID) { setTokenPolicy(id: $id, rotationPolicyId: $p) { id } }`,
      variables: { id: (await targetFor(role)).id, p: policyId },
    }),
  },
};

const QUERIES: Record<string, { query: string; allowed: Role[] }> = {
  owners: { query: `{ owners { totalCount } }`, allowed: ['admin', 'operator', 'auditor'] },
  roles: { query: `{ roles { id } }`, allowed: ['admin', 'operator', 'auditor'] },
  scopes: { query: `{ scopes { id } }`, allowed: ['admin', 'operator', 'auditor', 'developer'] },
  rotationPolicies: { query: `{ rotationPolicies { id } }`, allowed: ['admin', 'operator', 'auditor', 'developer'] },
  tokens: { query: `{ tokens { totalCount } }`, allowed: ['admin', 'operator', 'auditor', 'developer'] },
  verifyToken: { query: `{ verifyToken(secret: "lk_x") { valid } }`, allowed: ['admin', 'operator', 'gateway'] },
  auditEvents: { query: `{ auditEvents { totalCount } }`, allowed: ['admin', 'auditor'] },
  verifyAuditChain: { query: `{ verifyAuditChain { valid } }`, allowed: ['admin', 'auditor'] },
  viewer: { query: `{ viewer { id } tenant { id } }`, allowed: ROLES },
  webhooks: { query: `{ webhooks { id } }`, allowed: ['admin', 'auditor'] },
  policyUsage: {
    query: `{ rotationPolicies { usage { liveTokens credentials } } }`,
    allowed: ['admin', 'operator', 'auditor'],
  },
  scopeUsage: { query: `{ scopes { usage { ownerCeilings liveTokens } } }`, allowed: ['admin', 'operator', 'auditor'] },
};

const auditCount = async () =>
  (await api.sql(`SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1`, [t.tenantId]))[0].n;

describe('permission matrix: built-in roles × mutations', () => {
  for (const [name, c] of Object.entries(MUTATIONS)) {
    for (const role of ROLES) {
      const allowed = c.allowed.includes(role);
      it(`${role} ${allowed ? 'may' : 'may not'} ${name}`, async () => {
        const { query, variables } = await c.build(role);
        const before = await auditCount();
        const r = await api.gql(principals[role].token, query, variables);
        if (allowed) {
          expect(r.errors).toBeUndefined();
          expect(await auditCount()).toBeGreaterThan(before);
        } else {
          expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
          expect(await auditCount()).toBe(before);
        }
      });
    }
  }
});

describe('permission matrix: built-in roles × queries', () => {
  for (const [name, c] of Object.entries(QUERIES)) {
    for (const role of ROLES) {
      const allowed = c.allowed.includes(role);
      it(`${role} ${allowed ? 'may' : 'may not'} query ${name}`, async () => {
        const r = await api.gql(principals[role].token, c.query);
        if (allowed) expect(r.errors).toBeUndefined();
        else {
          expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
          expect(r.errors?.[0]?.extensions?.missingPermissions).toBeInstanceOf(Array);
        }
      });
    }
  }
});

describe('developer self-service', () => {
  it('sees and manages only its own tokens', async () => {
    const dev = principals.developer;
    const others = await issue(api, t.adminToken, serviceOwner, ['crm:deals:read']);
    const { tokens } = await api.ok(dev.token, `{ tokens(first: 100) { edges { node { owner { id } } } } }`);
    expect(tokens.edges.length).toBeGreaterThan(0);
    for (const e of tokens.edges) expect(e.node.owner.id).toBe(dev.ownerId);
    for (const q of [
      `query($id: ID!) { token(id: $id) { id } }`,
      `mutation($id: ID!) { revokeToken(id: $id, reason: "x") { id } }`,
      `mutation($id: ID!) { rotateToken(id: $id) { secret } }`,
    ]) {
      const r = await api.gql(dev.token, q, { id: others.id });
      expect(r.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    const bulk = await api.ok(
      dev.token,
      `mutation($o: ID!) { revokeTokens(filter: { ownerId: $o }, reason: "x") { count } }`,
      { o: serviceOwner },
    );
    expect(bulk.revokeTokens.count).toBe(0);
    expect(
      (await api.ok(t.adminToken, `query($id: ID!) { token(id: $id) { status } }`, { id: others.id })).token.status,
    ).toBe('ACTIVE');
  });

  it('issues only for itself and only within its own ceiling', async () => {
    const dev = principals.developer;
    const forOther = await api.gql(dev.token, IssueTokenDocument, {
      input: { ownerId: serviceOwner, name: 'x', scopes: [] },
    });
    expect(forOther.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const beyond = await api.gql(dev.token, IssueTokenDocument, {
      input: { ownerId: dev.ownerId, name: 'x', scopes: ['crm:deals:write'] },
    });
    expect(beyond.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('nobody grants what they do not hold', () => {
  let manager: { ownerId: string; token: string };
  beforeAll(async () => {
    await api.ok(t.adminToken, CreateRoleDocument, {
      input: {
        name: 'owner-manager',
        permissions: ['OWNER_READ', 'OWNER_WRITE', 'ROLE_READ', 'ROLE_WRITE', 'SCOPE_READ'],
      },
    });
    manager = await newPrincipal(api, t.adminToken, ['owner-manager'], ['crm:deals:read']);
  });

  it('refuses roles with permissions the granter lacks', async () => {
    const before = await auditCount();
    const assign = await api.gql(manager.token, AssignRoleDocument, {
      ownerId: manager.ownerId,
      roleId: await roleId(api, t.adminToken, 'admin'),
    });
    expect(assign.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const create = await api.gql(manager.token, CreateRoleDocument, {
      input: { name: 'sneaky', permissions: ['TOKEN_VERIFY'] },
    });
    expect(create.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(create.errors?.[0]?.message).toContain('TOKEN_VERIFY');
    expect(await auditCount()).toBe(before);
  });

  it('refuses ceilings with scopes the granter lacks, and allows those it holds', async () => {
    const beyond = await api.gql(manager.token, CreateOwnerDocument, {
      input: { kind: 'USER', name: 'x1', allowedScopes: ['crm:deals:write'] },
    });
    expect(beyond.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const within = await api.gql(manager.token, CreateOwnerDocument, {
      input: { kind: 'USER', name: 'x2', allowedScopes: ['crm:deals:read'] },
    });
    expect(within.errors).toBeUndefined();
  });

  it('never grants PLATFORM_ADMIN, even from an admin', async () => {
    const r = await api.gql(t.adminToken, CreateRoleDocument, {
      input: { name: 'platform', permissions: ['PLATFORM_ADMIN'] },
    });
    expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('keeps at least one TENANT_ADMIN', async () => {
    const lone = await newTenant(api);
    const r = await api.gql(lone.adminToken, UnassignRoleDocument, {
      ownerId: lone.adminId,
      roleId: await roleId(api, lone.adminToken, 'admin'),
    });
    expect(r.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const { viewer } = await api.ok(lone.adminToken, `{ viewer { roles { name } } }`);
    expect(viewer.roles.map((x: { name: string }) => x.name)).toContain('admin');
  });
});
