// Policy-as-code for tokens: issued when missing, updated in place where the server allows it,
// replaced (with an overlap) where it does not: scopes are fixed at issue, and an expiry never
// moves later.
import { parseDuration } from '../platform/iso-duration';
import { CliError, ExitCode } from './errors';
import type { ApplyState, Change, ServerIndex } from './change';
import { diffFields, key, retiring, sortKeys } from './diff-values';
import {
  IssueTokenDocument,
  RevokeTokenDocument,
  SetTokenPolicyDocument,
  type TokenFieldsFragment,
  UpdateTokenDocument,
} from './generated/graphql';
import type { DesiredToken, PolicyFile } from './policy-file';
import type { ServerState } from './server-state';

const iso = (at: string | null | undefined) => (at ? new Date(at).toISOString() : null);

export function tokenChanges(file: PolicyFile, server: ServerState, idx: ServerIndex): Change[] {
  const changes: Change[] = [];
  const tokensByKey = new Map<string, TokenFieldsFragment[]>();
  for (const t of server.tokens) {
    const k = `${t.owner.name}/${t.name}`;
    tokensByKey.set(k, [...(tokensByKey.get(k) ?? []), t]);
  }
  const policyId = (st: ApplyState, name: string | null) =>
    name ? (st.policyIds.get(key(name)) ?? idx.policies.get(key(name))?.id ?? null) : null;
  /** A policy's lifetime in ms, as it will be after apply (the file's word first). */
  const lifetimeMs = (name: string | null) => {
    if (!name) return null;
    const after =
      file.policies.find((p) => key(p.name) === key(name))?.expireAfter ?? idx.policies.get(key(name))?.expireAfter;
    return after ? parseDuration(after) * 1000 : null;
  };
  const issue = async (st: ApplyState, t: DesiredToken) => {
    const ownerId = st.ownerIds.get(t.owner) ?? idx.owners.get(t.owner)?.id;
    if (!ownerId) throw new CliError(`owner ${JSON.stringify(t.owner)} does not exist`, ExitCode.NOT_FOUND);
    const input = {
      ownerId,
      name: t.name,
      description: t.description,
      scopes: t.scopes,
      labels: t.labels,
      rotationPolicyId: policyId(st, t.policy),
      allowedCidrs: t.allowedCidrs,
      rateLimit: t.rateLimit,
      expiresAt: t.expiresAt,
    };
    const issued = (await st.client.request(IssueTokenDocument, { input })).issueToken;
    return { secret: issued.secret, tokenId: issued.token.id };
  };
  file.tokens.forEach((t, i) => {
    const name = `${t.owner}/${t.name}`;
    const matches = tokensByKey.get(name) ?? [];
    if (matches.length > 1)
      throw new CliError(
        `${file.where(['tokens', i, 'name'])}: ${matches.length} live tokens of ${JSON.stringify(t.owner)} are named ${JSON.stringify(t.name)}; revoke the extra ones first`,
        ExitCode.INVALID,
      );
    const current = matches[0];
    const future = () => {
      if (t.expiresAt && Date.parse(t.expiresAt) <= Date.now()) {
        throw new CliError(
          `${file.where(['tokens', i, 'expiresAt'])}: expiresAt ${t.expiresAt} has passed: a token cannot be issued or kept until then`,
          ExitCode.INVALID,
        );
      }
    };
    const wanted = {
      scopes: t.scopes,
      policy: t.policy,
      labels: sortKeys(t.labels),
      description: t.description,
      allowedCidrs: t.allowedCidrs,
      rateLimit: t.rateLimit,
      expiresAt: t.expiresAt ?? iso(current?.requestedExpiresAt),
    };
    if (!current) {
      future();
      changes.push({
        op: 'create',
        kind: 'token',
        name,
        fields: diffFields({}, { ...wanted, labels: t.labels }),
        issuesSecret: true,
        run: (st) => issue(st, t),
      });
      return;
    }
    const before = {
      scopes: current.scopes.map((s) => s.name).sort(),
      policy: current.rotationPolicy?.name ?? null,
      labels: sortKeys(current.labels),
      description: current.description,
      allowedCidrs: current.allowedCidrs ? [...current.allowedCidrs].sort() : null,
      rateLimit: current.rateLimit ? { requests: current.rateLimit.requests, per: current.rateLimit.per } : null,
      expiresAt: iso(current.requestedExpiresAt),
    };
    const fields = diffFields(before, wanted);
    if (fields.length === 0) return;
    const scopes = fields.find((f) => f.field === 'scopes');
    if (scopes) scopes.forcesReplacement = 'scopes are fixed at issue';
    const expiry = fields.find((f) => f.field === 'expiresAt');
    if (expiry) {
      future();
      // The token's expiry after the change: the earlier of the one asked for and its policy's lifetime.
      const life = lifetimeMs(t.policy);
      const would = Math.min(Date.parse(t.expiresAt!), life === null ? Infinity : Date.parse(current.createdAt) + life);
      if (current.expiresAt && would > Date.parse(current.expiresAt))
        expiry.forcesReplacement = `an expiry never moves later (the token expires at ${iso(current.expiresAt)})`;
    }
    if (fields.some((f) => f.forcesReplacement)) {
      changes.push({
        op: 'replace',
        kind: 'token',
        name,
        fields,
        issuesSecret: true,
        run: async (st) => {
          const issued = await issue(st, t);
          // The old one works through the overlap, renamed and unmanaged: the file's name means the new one.
          if (st.overlapS > 0)
            await st.client.request(UpdateTokenDocument, { id: current.id, input: retiring(current, st.overlapS) });
          else
            await st.client.request(RevokeTokenDocument, {
              id: current.id,
              reason: `replaced by ${issued.tokenId} (latchkey apply)`,
            });
          return issued;
        },
      });
      return;
    }
    const has = (f: string) => fields.some((x) => x.field === f);
    changes.push({
      op: 'update',
      kind: 'token',
      name,
      fields,
      run: async (st) => {
        // The policy first: the new expiry is checked against the policy the token will be under.
        if (has('policy'))
          await st.client.request(SetTokenPolicyDocument, { id: current.id, policyId: policyId(st, t.policy) });
        if (['labels', 'description', 'allowedCidrs', 'rateLimit', 'expiresAt'].some(has)) {
          await st.client.request(UpdateTokenDocument, {
            id: current.id,
            input: {
              labels: t.labels,
              description: t.description ?? '',
              allowedCidrs: t.allowedCidrs,
              rateLimit: t.rateLimit,
              expiresAt: has('expiresAt') ? t.expiresAt : undefined,
            },
          });
        }
        return {};
      },
    });
  });
  return changes;
}
