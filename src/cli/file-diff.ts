// Policy-as-code: the difference between a latchkey.yaml and the server, as a list of changes in
// dependency order (scopes, policies, roles, owners, tokens, webhooks, credentials; deletions
// last, in reverse). Each change carries how to apply itself through the API, so `apply` runs
// exactly what `plan` showed.
import type { ApplyState, Change, Impact, ServerIndex } from './change';
import type { LatchkeyClient } from './client';
import { CliError, ExitCode } from './errors';
import {
  AssignRoleDocument,
  CreateOwnerDocument,
  CreatePolicyDocument,
  CreateRoleDocument,
  CreateScopeDocument,
  type OwnerFieldsFragment,
  type PolicyFieldsFragment,
  type RotationPolicyInput,
  UnassignRoleDocument,
  UpdateOwnerDocument,
  UpdatePolicyDocument,
  type UpdatePolicyMutation,
  UpdateRoleDocument,
  UpdateScopeDocument,
} from './generated/graphql';
import type { DesiredPolicy, PolicyFile } from './policy-file';
import type { ServerState } from './server-state';
import { credentialChanges } from './credential-diff';
import { diffFields, key } from './diff-values';
import { pruneChanges } from './prune-diff';
import { tokenChanges } from './token-diff';
import { webhookChanges } from './webhook-diff';

const IMPACT_WINDOW = 'P30D';

function policyInput(p: DesiredPolicy): RotationPolicyInput {
  return {
    name: p.name,
    rotateEvery: p.rotateEvery,
    gracePeriod: p.gracePeriod,
    expireAfter: p.expireAfter,
    notifyBefore: p.notifyBefore,
    rateLimit: p.rateLimit,
    onReuse: p.onReuse,
  };
}

function policyFields(p: PolicyFieldsFragment | DesiredPolicy) {
  return {
    rotateEvery: p.rotateEvery,
    gracePeriod: p.gracePeriod,
    expireAfter: p.expireAfter,
    notifyBefore: p.notifyBefore,
    rateLimit: p.rateLimit,
    onReuse: p.onReuse,
  };
}

const impactOf = (p: UpdatePolicyMutation['updateRotationPolicy']['planImpact']): Impact | undefined =>
  p
    ? {
        within: p.within,
        tokens: p.tokens,
        affectedTokens: p.affectedTokens,
        addedCount: p.addedCount,
        removedCount: p.removedCount,
      }
    : undefined;

/**
 * The changes that make the server match the file, in dependency order (scopes, policies, roles,
 * owners, tokens, webhooks, credentials; deletions last, in reverse), one function per kind.
 */
export async function planChanges(
  client: LatchkeyClient,
  file: PolicyFile,
  server: ServerState,
  { prune, overlapS }: { prune: boolean; overlapS: number },
): Promise<Change[]> {
  const idx = indexServer(file, server);
  checkReferences(file, idx);
  const tokens = tokenChanges(file, server, idx);
  return [
    ...scopeChanges(file, idx),
    ...(await policyChanges(client, file, idx)),
    ...roleChanges(file, idx),
    ...ownerChanges(file, idx),
    ...tokens,
    ...webhookChanges(file, server),
    ...credentialChanges(file, server),
    ...(prune ? await pruneChanges(client, file, server, tokens, overlapS) : []),
  ];
}

function indexServer(file: PolicyFile, server: ServerState): ServerIndex {
  const owners = new Map<string, OwnerFieldsFragment>();
  for (const o of server.owners) {
    if (owners.has(o.name) && file.owners.some((d) => d.name === o.name)) {
      throw new CliError(
        `${file.path}: more than one owner on the server is named ${JSON.stringify(o.name)}; rename one first`,
        ExitCode.INVALID,
      );
    }
    owners.set(o.name, o);
  }
  return {
    scopes: new Map(server.scopes.map((s) => [s.name, s])),
    policies: new Map(server.policies.map((p) => [key(p.name), p])),
    roles: new Map(server.roles.map((r) => [key(r.name), r])),
    owners,
  };
}

function checkReferences(file: PolicyFile, idx: ServerIndex): void {
  // References must name something declared in the file or already on the server.
  const knownScopes = new Set([...file.scopes.map((s) => s.name), ...idx.scopes.keys()]);
  const knownRoles = new Set([...file.roles.map((r) => key(r.name)), ...idx.roles.keys()]);
  const knownPolicies = new Set([...file.policies.map((p) => key(p.name)), ...idx.policies.keys()]);
  file.owners.forEach((o, i) => {
    o.allowedScopes.forEach((s) => {
      if (!knownScopes.has(s)) throw unknownRef(file, ['owners', i, 'allowedScopes'], 'scope', s);
    });
    o.roles.forEach((r) => {
      if (!knownRoles.has(key(r))) throw unknownRef(file, ['owners', i, 'roles'], 'role', r);
    });
  });
  file.tokens.forEach((t, i) => {
    t.scopes.forEach((s) => {
      if (!knownScopes.has(s)) throw unknownRef(file, ['tokens', i, 'scopes'], 'scope', s);
    });
    if (t.policy && !knownPolicies.has(key(t.policy)))
      throw unknownRef(file, ['tokens', i, 'policy'], 'rotation policy', t.policy);
  });
  file.roles.forEach((r, i) => {
    if (idx.roles.get(key(r.name))?.builtIn)
      throw new CliError(
        `${file.where(['roles', i, 'name'])}: ${JSON.stringify(r.name)} is a built-in role; it cannot be declared`,
        ExitCode.INVALID,
      );
  });
}

function scopeChanges(file: PolicyFile, idx: ServerIndex): Change[] {
  const changes: Change[] = [];
  for (const s of file.scopes) {
    const current = idx.scopes.get(s.name);
    if (!current) {
      changes.push({
        op: 'create',
        kind: 'scope',
        name: s.name,
        fields: diffFields({}, { description: s.description }),
        run: async ({ client: c }) => (
          await c.request(CreateScopeDocument, { input: { name: s.name, description: s.description } }),
          {}
        ),
      });
    } else if (current.description !== s.description) {
      changes.push({
        op: 'update',
        kind: 'scope',
        name: s.name,
        fields: diffFields({ description: current.description }, { description: s.description }),
        run: async ({ client: c }) => (
          await c.request(UpdateScopeDocument, { id: current.id, input: { description: s.description } }),
          {}
        ),
      });
    }
  }
  return changes;
}

async function policyChanges(client: LatchkeyClient, file: PolicyFile, idx: ServerIndex): Promise<Change[]> {
  const changes: Change[] = [];
  for (const p of file.policies) {
    const current = idx.policies.get(key(p.name));
    if (!current) {
      changes.push({
        op: 'create',
        kind: 'policy',
        name: p.name,
        fields: diffFields({}, policyFields(p)),
        run: async (st) => {
          st.policyIds.set(
            key(p.name),
            (await st.client.request(CreatePolicyDocument, { input: policyInput(p) })).createRotationPolicy.id,
          );
          return {};
        },
      });
      continue;
    }
    const fields = diffFields(policyFields(current), policyFields(p));
    if (current.name !== p.name) fields.unshift({ field: 'name', before: current.name, after: p.name });
    if (fields.length === 0) continue;
    // The lifecycle's dry run: what the change would do to scheduled actions.
    const dry = await client.request(UpdatePolicyDocument, {
      id: current.id,
      input: policyInput(p),
      dryRun: true,
      within: IMPACT_WINDOW,
    });
    changes.push({
      op: 'update',
      kind: 'policy',
      name: p.name,
      fields,
      impact: impactOf(dry.updateRotationPolicy.planImpact),
      run: async ({ client: c }) => ({
        impact: impactOf(
          (
            await c.request(UpdatePolicyDocument, {
              id: current.id,
              input: policyInput(p),
              dryRun: false,
              within: IMPACT_WINDOW,
            })
          ).updateRotationPolicy.planImpact,
        ),
      }),
    });
  }
  return changes;
}

function roleChanges(file: PolicyFile, idx: ServerIndex): Change[] {
  const changes: Change[] = [];
  for (const r of file.roles) {
    const current = idx.roles.get(key(r.name));
    if (!current) {
      changes.push({
        op: 'create',
        kind: 'role',
        name: r.name,
        fields: diffFields({}, { description: r.description, permissions: r.permissions }),
        run: async (st) => {
          st.roleIds.set(
            key(r.name),
            (
              await st.client.request(CreateRoleDocument, {
                input: { name: r.name, description: r.description, permissions: r.permissions as never },
              })
            ).createRole.id,
          );
          return {};
        },
      });
      continue;
    }
    const fields = diffFields(
      { description: current.description, permissions: [...current.permissions].sort() },
      { description: r.description, permissions: r.permissions },
    );
    if (fields.length > 0) {
      changes.push({
        op: 'update',
        kind: 'role',
        name: r.name,
        fields,
        run: async ({ client: c }) => (
          await c.request(UpdateRoleDocument, {
            id: current.id,
            input: { description: r.description, permissions: r.permissions as never },
          }),
          {}
        ),
      });
    }
  }
  return changes;
}

function ownerChanges(file: PolicyFile, idx: ServerIndex): Change[] {
  const changes: Change[] = [];
  const roleId = (st: ApplyState, name: string) => {
    const id = st.roleIds.get(key(name)) ?? idx.roles.get(key(name))?.id;
    if (!id) throw new CliError(`role ${JSON.stringify(name)} does not exist`, ExitCode.NOT_FOUND);
    return id;
  };
  for (const o of file.owners) {
    const current = idx.owners.get(o.name);
    const wanted = { kind: o.kind, email: o.email, allowedScopes: o.allowedScopes, roles: o.roles };
    if (!current) {
      changes.push({
        op: 'create',
        kind: 'owner',
        name: o.name,
        fields: diffFields({}, wanted),
        run: async (st) => {
          const created = (
            await st.client.request(CreateOwnerDocument, {
              input: { name: o.name, kind: o.kind, email: o.email, allowedScopes: o.allowedScopes },
            })
          ).createOwner;
          st.ownerIds.set(o.name, created.id);
          for (const r of o.roles)
            await st.client.request(AssignRoleDocument, { ownerId: created.id, roleId: roleId(st, r) });
          return {};
        },
      });
      continue;
    }
    const before = {
      kind: current.kind,
      email: current.email,
      allowedScopes: current.allowedScopes.map((s) => s.name).sort(),
      roles: current.roles.map((r) => r.name).sort(),
    };
    const fields = diffFields(before, wanted);
    if (fields.some((f) => f.field === 'kind')) {
      throw new CliError(
        `${file.where(['owners', file.owners.indexOf(o), 'kind'])}: owner ${JSON.stringify(o.name)} is a ${current.kind}; an owner's kind cannot change`,
        ExitCode.INVALID,
      );
    }
    if (fields.length === 0) continue;
    changes.push({
      op: 'update',
      kind: 'owner',
      name: o.name,
      fields,
      run: async (st) => {
        if (fields.some((f) => f.field === 'email' || f.field === 'allowedScopes')) {
          await st.client.request(UpdateOwnerDocument, {
            id: current.id,
            input: { email: o.email, allowedScopes: o.allowedScopes },
          });
        }
        const had = new Set(before.roles.map(key));
        const want = new Set(o.roles.map(key));
        for (const r of o.roles)
          if (!had.has(key(r)))
            await st.client.request(AssignRoleDocument, { ownerId: current.id, roleId: roleId(st, r) });
        for (const r of current.roles)
          if (!want.has(key(r.name)))
            await st.client.request(UnassignRoleDocument, { ownerId: current.id, roleId: r.id });
        return {};
      },
    });
  }
  return changes;
}

function unknownRef(file: PolicyFile, path: Array<string | number>, what: string, name: string): CliError {
  return new CliError(
    `${file.where(path)}: unknown ${what} ${JSON.stringify(name)}: declare it in the file or create it first`,
    ExitCode.INVALID,
  );
}
