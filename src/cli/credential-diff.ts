// Policy-as-code for managed credentials: what is known about them, who may read them and who
// rotates them. Never values: a declared credential must already exist (created with its value);
// plan says so at the file's line instead of failing half-way through apply. Credentials are not
// pruned: destroying values is not something a file should do by omission.
import { CliError, ExitCode } from './errors';
import type { Change } from './change';
import { urlDigest } from '../platform/capability-url';
import { diffFields, sortKeys } from './diff-values';
import {
  type CredentialFieldsFragment,
  GrantCredentialDocument,
  RevokeCredentialAccessDocument,
  SetCredentialRotatorDocument,
  UpdateCredentialDocument,
} from './generated/graphql';
import type { DesiredCredential, DesiredRotator, PolicyFile } from './policy-file';
import type { ServerState } from './server-state';

/**
 * A rotator as the server shows it, in the file's terms. A reader without CREDENTIAL_WRITE sees a
 * webhook rotator's URL masked: when its digest is the file's URL's, it is that URL.
 */
function serverRotator(c: CredentialFieldsFragment, desired: DesiredRotator | null): DesiredRotator | null {
  const r = c.rotator as {
    kind: string;
    url?: string;
    urlDigest?: string;
    connection?: string;
    roles?: string[];
  } | null;
  if (!r) return null;
  const timing = { rotateEvery: c.rotateEvery ?? null, gracePeriod: c.gracePeriod };
  if (r.kind === 'WEBHOOK')
    return {
      kind: 'WEBHOOK',
      url: desired?.kind === 'WEBHOOK' && urlDigest(desired.url) === r.urlDigest ? desired.url : r.url!,
      ...timing,
    };
  if (r.kind === 'POSTGRES') return { kind: 'POSTGRES', connection: r.connection!, roles: r.roles!, ...timing };
  return { kind: 'REDIS', connection: r.connection!, ...timing };
}

export function credentialChanges(file: PolicyFile, server: ServerState): Change[] {
  const byName = new Map(server.credentials.map((c) => [c.name, c]));
  const ownerName = new Map(server.owners.map((o) => [o.id, o.name]));
  const declaredOwners = new Set([...file.owners.map((o) => o.name), ...server.owners.map((o) => o.name)]);
  const changes: Change[] = [];
  file.credentials.forEach((d: DesiredCredential, i) => {
    const current = byName.get(d.name);
    if (!current) {
      throw new CliError(
        `${file.where(['credentials', i, 'name'])}: credential ${JSON.stringify(d.name)} does not exist; values never go in the file: create it first (printf %s "$VALUE" | latchkey credentials create ${d.name})`,
        ExitCode.INVALID,
      );
    }
    for (const [j, r] of d.readers.entries())
      if (!declaredOwners.has(r))
        throw new CliError(
          `${file.where(['credentials', i, 'readers', j])}: unknown owner ${JSON.stringify(r)}: declare it in the file or create it first`,
          ExitCode.INVALID,
        );
    if (d.owner && !declaredOwners.has(d.owner))
      throw new CliError(
        `${file.where(['credentials', i, 'owner'])}: unknown owner ${JSON.stringify(d.owner)}`,
        ExitCode.INVALID,
      );

    const before: Record<string, unknown> = {
      service: current.service ?? null,
      description: current.description ?? null,
      labels: sortKeys(current.labels),
    };
    const after: Record<string, unknown> = {
      service: d.service,
      description: d.description,
      labels: sortKeys(d.labels),
    };
    if (d.owner) {
      before.owner = ownerName.get(current.ownerId) ?? current.ownerId;
      after.owner = d.owner;
    }
    const readersBefore = current.readers.map((r) => ownerName.get(r.ownerId) ?? r.ownerId).sort();
    before.readers = readersBefore;
    after.readers = d.readers;
    const rotatorBefore = serverRotator(current, d.rotator);
    if (d.rotator) {
      before.rotator = rotatorBefore;
      after.rotator = d.rotator;
    }
    const fields = diffFields(before, after);
    if (fields.length === 0) return;
    const has = (f: string) => fields.some((x) => x.field === f);
    changes.push({
      op: 'update',
      kind: 'credential',
      name: d.name,
      fields,
      issuesSecret: has('rotator') && d.rotator?.kind === 'WEBHOOK',
      run: async (st) => {
        const ownerId = (name: string) => {
          const id = st.ownerIds.get(name) ?? server.owners.find((o) => o.name === name)?.id;
          if (!id) throw new CliError(`owner ${JSON.stringify(name)} does not exist`, ExitCode.NOT_FOUND);
          return id;
        };
        if (has('service') || has('description') || has('labels') || has('owner')) {
          await st.client.request(UpdateCredentialDocument, {
            name: d.name,
            input: {
              service: d.service,
              description: d.description,
              labels: d.labels,
              ownerId: d.owner ? ownerId(d.owner) : undefined,
            },
          });
        }
        for (const r of d.readers)
          if (!readersBefore.includes(r))
            await st.client.request(GrantCredentialDocument, { name: d.name, ownerId: ownerId(r) });
        for (const g of current.readers) {
          if (!d.readers.includes(ownerName.get(g.ownerId) ?? g.ownerId))
            await st.client.request(RevokeCredentialAccessDocument, { name: d.name, ownerId: g.ownerId });
        }
        if (has('rotator') && d.rotator) {
          const r = d.rotator;
          const input =
            r.kind === 'WEBHOOK'
              ? { kind: r.kind, url: r.url }
              : r.kind === 'POSTGRES'
                ? { kind: r.kind, connection: r.connection, roles: r.roles }
                : { kind: r.kind, connection: r.connection };
          const set = (
            await st.client.request(SetCredentialRotatorDocument, {
              name: d.name,
              input: { ...input, rotateEvery: r.rotateEvery, gracePeriod: r.gracePeriod },
            })
          ).setCredentialRotator;
          return set.signingSecret ? { secret: set.signingSecret } : {};
        }
        return {};
      },
    });
  });
  return changes;
}
