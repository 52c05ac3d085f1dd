// Fresh tenants and principals for tests, created through the API as a user would.
import { randomBytes } from 'node:crypto';
import {
  AssignRoleDocument,
  CreateOwnerDocument,
  CreateScopeDocument,
  CreateTenantDocument,
  IssueTokenDocument,
  type IssueTokenInput,
  RolesDocument,
} from '../generated/graphql';
import { bootstrapToken, type TestApi } from './api';

export interface TenantFixture {
  tenantId: string;
  adminId: string;
  adminToken: string;
}

export const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

/** A tenant made by the platform admin (the run's bootstrap token unless another is given). */
export async function newTenant(api: TestApi, platformAdmin: string = bootstrapToken()): Promise<TenantFixture> {
  const data = await api.ok(platformAdmin, CreateTenantDocument, {
    input: { name: unique('tenant'), adminName: 'admin' },
  });
  return {
    tenantId: data.createTenant.tenant.id,
    adminId: data.createTenant.admin.id,
    adminToken: data.createTenant.adminToken.secret,
  };
}

export async function createScopes(api: TestApi, token: string, names: string[]): Promise<void> {
  for (const name of names) {
    await api.ok(token, CreateScopeDocument, { input: { name } });
  }
}

export async function roleId(api: TestApi, token: string, name: string): Promise<string> {
  const { roles } = await api.ok(token, RolesDocument);
  return roles.find((r) => r.name === name)!.id;
}

export interface PrincipalFixture {
  ownerId: string;
  /** A scope-less token: the kind that authenticates to Latchkey itself. */
  token: string;
}

/** An owner holding the given built-in or custom roles, with a scope-less token of its own. */
export async function newPrincipal(
  api: TestApi,
  adminToken: string,
  roles: string[],
  allowedScopes: string[] = [],
): Promise<PrincipalFixture> {
  const { createOwner } = await api.ok(adminToken, CreateOwnerDocument, {
    input: { kind: 'USER', name: unique(roles.join('+') || 'nobody'), allowedScopes },
  });
  for (const role of roles) {
    await api.ok(adminToken, AssignRoleDocument, {
      ownerId: createOwner.id,
      roleId: await roleId(api, adminToken, role),
    });
  }
  const token = await issue(api, adminToken, createOwner.id, []);
  return { ownerId: createOwner.id, token: token.secret };
}

export async function issue(
  api: TestApi,
  token: string,
  ownerId: string,
  scopes: string[],
  extra: Partial<IssueTokenInput> = {},
): Promise<{ id: string; secret: string }> {
  const { issueToken } = await api.ok(token, IssueTokenDocument, {
    input: { ownerId, name: unique('token'), scopes, ...extra },
  });
  return { id: issueToken.token.id, secret: issueToken.secret };
}
