// Handing out a credential's value: the one path from ciphertext to caller, shared by
// GET /v1/credentials/{name} and the revealCredential mutation. The caller's owner must hold a
// grant on the credential; the reveal is in the tenant's audit chain before the value is returned
// (group-committed with concurrent reveals: no transaction of its own); a revalidation whose ETag
// still matches returns no value and is not a reveal. Revalidations are answered from a memory of
// the last second's lookups (ETags only, never a value or ciphertext), cleared by every change
// this process makes: another replica's change reaches them within a second, and a value is
// never handed out but after a fresh read of the grant. Refusals are priced and audited in
// reveal-refusals.ts.
import type { DataSource } from 'typeorm';
import type { AuditGroupCommit } from '../audit/group-commit';
import { preparedQuery } from '../platform/db';
import { notFound } from '../platform/errors';
import { checkName, versionContext } from './credential-rules';
import type { DataKeys } from './data-keys';
import type { RevealRefusals } from './reveal-refusals';

export interface RevealRequest {
  tenantId: string;
  /** The owner the caller's token belongs to: the grant is checked for it. */
  ownerId: string;
  tokenId: string;
  name: string;
  /** A version number; the CURRENT one when absent. A PREVIOUS version is readable until its grace ends. */
  version?: number | null;
  clientIp: string | null;
  door: 'rest' | 'graphql';
  /** The If-None-Match the caller sent: when it names this version, no value is returned. */
  ifNoneMatch?: string | null;
}

interface Found {
  credential_id: string;
  granted: boolean;
  version_id: string | null;
  version: number | null;
  state: string | null;
  ciphertext: string | null;
  data_key_id: string | null;
  expires_at: Date | null;
  grace_ends_at: Date | null;
  next_rotation_at: Date | null;
}

/** How long a lookup answers revalidations without a read. */
const REMEMBER_MS = 1_000;
const REMEMBER_MAX = 100_000;

export type Revealed =
  | {
      modified: true;
      name: string;
      version: number;
      value: string;
      expiresAt: Date | null;
      graceEndsAt: Date | null;
      nextRotationAt: Date | null;
      etag: string;
    }
  | { modified: false; name: string; version: number; etag: string };

const FIND = `
  SELECT c.id AS credential_id,
         EXISTS (SELECT 1 FROM credential_grants g WHERE g.credential_id = c.id AND g.owner_id = $3) AS granted,
         v.id AS version_id, v.version, v.state, v.ciphertext, v.data_key_id, v.expires_at, v.grace_ends_at, c.next_rotation_at
    FROM credentials c
    LEFT JOIN credential_versions v ON v.credential_id = c.id AND (CASE WHEN $4::integer IS NULL THEN v.state = 'CURRENT' ELSE v.version = $4 END)
   WHERE c.tenant_id = $1 AND c.name = $2`;

/** A strong ETag per version: its id. */
export const etagOf = (versionId: string) => `"${versionId}"`;

function matches(ifNoneMatch: string | null | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '');
    return tag === etag || tag === '*';
  });
}

export class CredentialReveals {
  private readonly recent = new Map<string, { at: number; etag: string; version: number }>();

  constructor(
    private readonly ds: DataSource,
    private readonly keys: DataKeys,
    private readonly group: AuditGroupCommit,
    private readonly refusals: RevealRefusals,
  ) {}

  /** Forgets every remembered lookup: called on each change of a credential, version or grant. */
  forget(): void {
    this.recent.clear();
  }

  async reveal(r: RevealRequest): Promise<Revealed> {
    checkName(r.name);
    const key = `${r.tenantId}\u0000${r.ownerId}\u0000${r.name}\u0000${r.version ?? ''}`;
    if (r.ifNoneMatch) {
      const seen = this.recent.get(key);
      if (seen && Date.now() - seen.at < REMEMBER_MS && matches(r.ifNoneMatch, seen.etag))
        return { modified: false, name: r.name, version: seen.version, etag: seen.etag };
    }
    const [found] = await preparedQuery<Found & Record<string, unknown>>(this.ds, 'latchkey_credential_reveal', FIND, [
      r.tenantId,
      r.name,
      r.ownerId,
      r.version ?? null,
    ]);
    // A credential that does not exist and one not granted to the caller look, and cost, the same.
    if (!found?.granted) {
      throw await this.refusals.refuse({
        ...r,
        credentialId: found?.credential_id ?? null,
        reason: found ? 'NOT_GRANTED' : 'NO_SUCH_CREDENTIAL',
      });
    }
    const readable =
      found.version_id !== null &&
      (found.state === 'CURRENT' || (found.state === 'PREVIOUS' && found.grace_ends_at! > new Date()));
    if (!readable) {
      throw notFound(
        `version of credential ${r.name}`,
        r.version ? `${r.version}${found.state ? ` (${found.state})` : ''}` : 'CURRENT',
      );
    }
    const version = found.version!;
    const etag = etagOf(found.version_id!);
    if (this.recent.size >= REMEMBER_MAX) this.recent.clear();
    this.recent.set(key, { at: Date.now(), etag, version });
    if (matches(r.ifNoneMatch, etag)) return { modified: false, name: r.name, version, etag };
    const value = await this.keys.open(
      r.tenantId,
      found.data_key_id!,
      found.ciphertext!,
      versionContext(r.tenantId, found.credential_id, version),
    );
    // Fail closed: if the event cannot be committed, this throws and the value goes nowhere.
    await this.group.append(r.tenantId, {
      action: 'CREDENTIAL_REVEALED',
      actorId: r.ownerId,
      targetType: 'CREDENTIAL',
      targetId: found.credential_id,
      data: { name: r.name, version, tokenId: r.tokenId, clientIp: r.clientIp, door: r.door },
    });
    return {
      modified: true,
      name: r.name,
      version,
      value,
      expiresAt: found.expires_at,
      graceEndsAt: found.grace_ends_at,
      nextRotationAt: found.next_rotation_at,
      etag,
    };
  }
}
