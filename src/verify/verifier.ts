// Verification of presented secrets, for gateways (verifyToken, /v1/verify) and for
// authenticating every caller of Latchkey itself.
import type { DataSource } from 'typeorm';
import type { Principal } from '../iam/principal';
import type { RoleService } from '../iam/role.service';
import { badInput, unauthenticated } from '../platform/errors';
import type { SecretHasher } from '../tokens/secret-hasher';
import { isWellFormed } from '../tokens/token-format';
import { decide, failed, type SecretRecord } from './verdict';
import { VerifyFailure, type VerifyResult } from './verify.types';

const MAX_REQUIRED_SCOPES = 50;

interface LookupRow {
  token_id: string;
  tenant_id: string;
  owner_id: string;
  secret_state: SecretRecord['secretState'];
  grace_ends_at: Date | null;
  token_status: SecretRecord['tokenStatus'];
  expires_at: Date | null;
  scopes: string[];
}

export class Verifier {
  constructor(
    private readonly ds: DataSource,
    private readonly hasher: SecretHasher,
    private readonly roles: RoleService,
  ) {}

  /** Verifies a secret for a caller in `tenantId` (null: any tenant, for internal use). */
  async verify(secret: string, requiredScopes: readonly string[] | null | undefined, tenantId: string | null): Promise<VerifyResult> {
    const required = requiredScopes ?? [];
    if (required.length > MAX_REQUIRED_SCOPES) throw badInput(`at most ${MAX_REQUIRED_SCOPES} requiredScopes`, { argument: 'requiredScopes' });
    if (!isWellFormed(secret)) return failed(VerifyFailure.MALFORMED);
    const record = await this.lookup(this.hasher.hash(secret));
    return decide(record, tenantId, required, Date.now());
  }

  /**
   * Resolves a bearer credential to a principal. Only tokens without API scopes authenticate to
   * Latchkey itself: a token issued for the CRM cannot be replayed against the control plane.
   */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    const secret = bearer(authorization);
    if (!secret) throw unauthenticated();
    const result = await this.verify(secret, [], null);
    if (!result.valid) throw unauthenticated(`the bearer token is not valid (${result.failure})`);
    if (result.scopes.length > 0) {
      throw unauthenticated('this token carries API scopes, so it cannot call Latchkey itself: use a token issued without scopes');
    }
    return {
      tenantId: result.tenantId!,
      ownerId: result.ownerId!,
      tokenId: result.tokenId!,
      permissions: await this.roles.permissionsOf(result.tenantId!, result.ownerId!),
    };
  }

  private async lookup(hash: string): Promise<SecretRecord | null> {
    const rows: LookupRow[] = await this.ds.query(
      `SELECT t.id AS token_id, t.tenant_id, t.owner_id, s.state AS secret_state, s.grace_ends_at,
              t.status AS token_status, t.expires_at,
              COALESCE(ARRAY(SELECT sc.name FROM token_scopes ts
                             JOIN scopes sc ON sc.tenant_id = ts.tenant_id AND sc.id = ts.scope_id
                             WHERE ts.tenant_id = t.tenant_id AND ts.token_id = t.id ORDER BY sc.name), '{}') AS scopes
         FROM token_secrets s
         JOIN tokens t ON t.tenant_id = s.tenant_id AND t.id = s.token_id
        WHERE s.hash = $1`,
      [hash],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      tokenId: r.token_id,
      tenantId: r.tenant_id,
      ownerId: r.owner_id,
      secretState: r.secret_state,
      graceEndsAt: r.grace_ends_at?.getTime() ?? null,
      tokenStatus: r.token_status,
      expiresAt: r.expires_at?.getTime() ?? null,
      scopes: r.scopes,
    };
  }
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearer(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}
