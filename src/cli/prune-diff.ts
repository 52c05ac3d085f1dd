// What `--prune` deletes, and what it cannot: the server refuses to delete a rotation policy, a
// scope or a role that something still holds. Plan predicts those refusals from the state the
// server will be in after the rest of the file is applied (declared owners' ceilings and roles as
// the file says, declared tokens as the file says, pruned tokens gone, replaced tokens still live
// through the overlap) plus what the file cannot see (other owners' tokens, counted by the
// server), and refuses up front instead of failing half-way through apply.
import type { LatchkeyClient } from './client';
import { CliError, ExitCode } from './errors';
import type { Change } from './change';
import { key } from './diff-values';
import {
  DeletePolicyDocument,
  DeleteRoleDocument,
  DeleteScopeDocument,
  PruneUsageDocument,
  RevokeTokenDocument,
} from './generated/graphql';
import { MANAGED_LABEL, type PolicyFile } from './policy-file';
import type { ServerState } from './server-state';
import { webhookDeletions } from './webhook-diff';

/** A live token after apply, as far as the file can see it. */
interface Holder {
  name: string;
  policy: string | null;
  scopes: string[];
}

export async function pruneChanges(
  client: LatchkeyClient,
  file: PolicyFile,
  server: ServerState,
  tokenChanges: Change[],
  overlapS: number,
): Promise<Change[]> {
  const declaredTokens = new Map(file.tokens.map((t) => [`${t.owner}/${t.name}`, t]));
  const pruned = server.tokens.filter(
    (t) => t.labels[MANAGED_LABEL.key] === MANAGED_LABEL.value && !declaredTokens.has(`${t.owner.name}/${t.name}`),
  );
  const roles = server.roles.filter((r) => !r.builtIn && !file.roles.some((d) => key(d.name) === key(r.name)));
  const policies = server.policies.filter((p) => !file.policies.some((d) => key(d.name) === key(p.name)));
  const scopes = server.scopes.filter((s) => !file.scopes.some((d) => d.name === s.name));

  const blocked = await refusals(client, file, server, tokenChanges, overlapS, new Set(pruned.map((t) => t.id)), {
    roles,
    policies,
    scopes,
  });
  if (blocked.length > 0) {
    throw new CliError(
      `${file.path}: --prune would delete what is still in use, and the server would refuse it half-way through apply:\n${blocked.map((b) => `  ${b}`).join('\n')}\nDeclare them in the file, or move what holds them first.`,
      ExitCode.INVALID,
    );
  }
  const del = (kind: Change['kind'], name: string, run: Change['run']): Change => ({
    op: 'delete',
    kind,
    name,
    fields: [],
    run,
  });
  return [
    ...webhookDeletions(file, server),
    ...pruned.map((t) =>
      del(
        'token',
        `${t.owner.name}/${t.name}`,
        async ({ client: c }) => (
          await c.request(RevokeTokenDocument, { id: t.id, reason: 'no longer declared (latchkey apply --prune)' }),
          {}
        ),
      ),
    ),
    ...roles.map((r) =>
      del('role', r.name, async ({ client: c }) => (await c.request(DeleteRoleDocument, { id: r.id }), {})),
    ),
    ...policies.map((p) =>
      del('policy', p.name, async ({ client: c }) => (await c.request(DeletePolicyDocument, { id: p.id }), {})),
    ),
    ...scopes.map((s) =>
      del('scope', s.name, async ({ client: c }) => (await c.request(DeleteScopeDocument, { id: s.id }), {})),
    ),
  ];
}

/** Why each role, policy and scope to be deleted would be refused, in words; empty when none would. */
async function refusals(
  client: LatchkeyClient,
  file: PolicyFile,
  server: ServerState,
  tokenChanges: Change[],
  overlapS: number,
  prunedIds: Set<string>,
  doomed: { roles: ServerState['roles']; policies: ServerState['policies']; scopes: ServerState['scopes'] },
): Promise<string[]> {
  const out: string[] = [];
  // Owners after apply: the file's ceilings and roles for the owners it declares, the server's for the rest.
  const owners = server.owners
    .filter((o) => !file.owners.some((d) => d.name === o.name))
    .map((o) => ({
      name: o.name,
      declared: false,
      scopes: o.allowedScopes.map((s) => s.name),
      roles: o.roles.map((r) => key(r.name)),
    }))
    .concat(
      file.owners.map((d) => ({ name: d.name, declared: true, scopes: d.allowedScopes, roles: d.roles.map(key) })),
    );
  const where = (o: { declared: boolean }) => (o.declared ? 'in the file' : 'not in the file');
  for (const r of doomed.roles) {
    const holders = owners.filter((o) => o.roles.includes(key(r.name)));
    if (holders.length)
      out.push(
        `role ${JSON.stringify(r.name)}: held by ${holders.map((o) => `owner ${JSON.stringify(o.name)} (${where(o)})`).join(', ')}`,
      );
  }
  if (doomed.policies.length === 0 && doomed.scopes.length === 0) return out;

  // Live tokens after apply that the file can see.
  const replaced = new Set(tokenChanges.filter((c) => c.op === 'replace').map((c) => c.name));
  const declared = new Set(file.tokens.map((t) => `${t.owner}/${t.name}`));
  const holders: Holder[] = [];
  for (const t of server.tokens) {
    const name = `${t.owner.name}/${t.name}`;
    if (prunedIds.has(t.id)) continue;
    const now = { name, policy: t.rotationPolicy?.name ?? null, scopes: t.scopes.map((s) => s.name) };
    if (!declared.has(name)) holders.push(now);
    else if (replaced.has(name) && overlapS > 0)
      holders.push({ ...now, name: `${name} (replaced, live through --overlap; --overlap 0s revokes it)` });
  }
  for (const d of file.tokens) holders.push({ name: `${d.owner}/${d.name}`, policy: d.policy, scopes: d.scopes });
  const known = (test: (h: { policy: string | null; scopes: string[] }) => boolean) =>
    server.tokens.filter((t) => test({ policy: t.rotationPolicy?.name ?? null, scopes: t.scopes.map((s) => s.name) }))
      .length;

  const { rotationPolicies, scopes } = await client.request(PruneUsageDocument);
  const usage = new Map<string, { liveTokens: number; credentials?: number; ownerCeilings?: number }>(
    [...rotationPolicies, ...scopes].map((x) => [x.id, x.usage]),
  );
  const tokensLine = (matching: Holder[], unseen: number) =>
    [
      ...matching.map((h) => h.name),
      ...(unseen > 0 ? [`${unseen} live token(s) of owners the file does not declare`] : []),
    ].join(', ');
  for (const p of doomed.policies) {
    const u = usage.get(p.id);
    const under = (h: { policy: string | null }) => h.policy !== null && key(h.policy) === key(p.name);
    const unseen = Math.max(0, (u?.liveTokens ?? 0) - known(under));
    const matching = holders.filter(under);
    const why = [
      matching.length || unseen ? `governs ${tokensLine(matching, unseen)}` : '',
      u?.credentials ? `times the warnings of ${u.credentials} credential(s)` : '',
    ].filter(Boolean);
    if (why.length) out.push(`rotation policy ${JSON.stringify(p.name)}: still ${why.join('; and ')}`);
  }
  for (const s of doomed.scopes) {
    const u = usage.get(s.id);
    const holds = (h: { scopes: string[] }) => h.scopes.includes(s.name);
    const unseen = Math.max(0, (u?.liveTokens ?? 0) - known(holds));
    const matching = holders.filter(holds);
    const ceilings = owners.filter(holds);
    const why = [
      ceilings.length
        ? `in the ceiling of ${ceilings.map((o) => `owner ${JSON.stringify(o.name)} (${where(o)})`).join(', ')}`
        : '',
      matching.length || unseen ? `carried by ${tokensLine(matching, unseen)}` : '',
    ].filter(Boolean);
    if (why.length) out.push(`scope ${JSON.stringify(s.name)}: still ${why.join('; and ')}`);
  }
  return out;
}
