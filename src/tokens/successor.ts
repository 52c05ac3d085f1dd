// Picking up a successor: after a scheduled rotation nobody holds the new secret, so it waits,
// sealed, until the consumers present the PREVIOUS secret during the grace period. Every holder of
// the previous secret gets the same successor, as often as it asks, until the grace ends: a fleet
// of replicas sharing one token all move over, and a retried pickup whose answer was lost is
// answered again. Reuse is a superseded secret presented after its grace: a copy in hands that
// never moved over.
import type { DataSource } from 'typeorm';
import type { AuditAction } from '../audit/actions';
import type { AuditService } from '../audit/audit.service';
import type { ChangeNotifier } from '../platform/change-notifier';
import { RotationPolicy } from '../policies/rotation-policy.entity';
import type { SuccessorSeal } from './successor-seal';
import { TenantScope } from '../platform/tenant-scope';
import type { SecretHasher } from './secret-hasher';
import { TokenRow } from './token.entity';
import { isWellFormed } from './token-format';
import { TokenSecretRow } from './token-secret.entity';
import type { TokenStatusChanges } from './token-status';
import { NetworkMatcher } from '../platform/networks';

/** Why a pickup was refused; the route says it in HTTP. */
export type PickupRefusal = 'INVALID' | 'IP_NOT_ALLOWED' | 'NO_SUCCESSOR' | 'SUCCESSOR_UNAVAILABLE';

export type Pickup =
  | {
      ok: true;
      secret: string;
      tokenId: string;
      generation: number;
      hint: string;
      expiresAt: Date | null;
      previousGraceEndsAt: Date;
    }
  | { ok: false; refusal: PickupRefusal; message: string; revoked?: boolean };

const invalid = (message: string): Pickup => ({ ok: false, refusal: 'INVALID', message });

export class SuccessorService {
  constructor(
    private readonly ds: DataSource,
    private readonly hasher: SecretHasher,
    private readonly seal: SuccessorSeal,
    private readonly audit: AuditService,
    private readonly status: TokenStatusChanges,
    private readonly changes: ChangeNotifier,
  ) {}

  async pickUp(presented: string, clientIp: string | null): Promise<Pickup> {
    if (!isWellFormed(presented)) return invalid('the bearer token is malformed');
    const hash = this.hasher.hash(presented);
    const outcome = await this.ds.transaction(async (tx): Promise<{ pickup: Pickup; changed: string | null }> => {
      const found = await tx.findOneBy(TokenSecretRow, { hash });
      if (!found) return { pickup: invalid('the bearer token is not valid'), changed: null };
      const scope = new TenantScope(tx, found.tenantId);
      // Token first, then its secrets: the order every writer locks in.
      const token = await scope.get(TokenRow, found.tokenId, 'token', true);
      const secrets = await scope
        .select(TokenSecretRow, 's')
        .andWhere('s.tokenId = :id', { id: token.id })
        .setLock('pessimistic_write')
        .getMany();
      const old = secrets.find((s) => s.id === found.id)!;
      const current = secrets.find((s) => s.state === 'CURRENT');
      const now = new Date();
      if (token.status !== 'ACTIVE' || (token.expiresAt && token.expiresAt <= now))
        return { pickup: invalid('the token is not active'), changed: null };
      if (token.allowedCidrs && !new NetworkMatcher(token.allowedCidrs).allows(clientIp)) {
        return {
          pickup: { ok: false, refusal: 'IP_NOT_ALLOWED', message: 'the token may not be used from this address' },
          changed: null,
        };
      }
      if (old.state === 'CURRENT')
        return {
          pickup: {
            ok: false,
            refusal: 'NO_SUCCESSOR',
            message: 'this is the current secret: there is no successor to pick up',
          },
          changed: null,
        };
      const entry = (action: AuditAction, data: Record<string, unknown>) => ({
        action,
        actorId: null,
        targetType: 'TOKEN',
        targetId: token.id,
        data: {
          presentedGeneration: old.generation,
          successorGeneration: current?.generation ?? null,
          clientIp,
          ...data,
        },
      });
      const event = (action: AuditAction, data: Record<string, unknown>) =>
        this.audit.append(tx, token.tenantId, entry(action, data));
      // A refusal is audited once a minute per token and address: a holder of the old secret could
      // otherwise write an event per request it makes.
      const refusal = (action: AuditAction, data: Record<string, unknown>) =>
        this.audit.appendUnlessRecent(tx, token.tenantId, entry(action, data), 60, { clientIp });
      if (old.state !== 'PREVIOUS' || !old.graceEndsAt || old.graceEndsAt <= now || !current) {
        // Whoever still holds a superseded secret after its grace never moved over: a copy elsewhere.
        const policy = token.rotationPolicyId
          ? await scope.get(RotationPolicy, token.rotationPolicyId, 'rotation policy')
          : null;
        const revoke = policy?.onReuse === 'REVOKE';
        await refusal('TOKEN_REUSE_DETECTED', {
          reason: 'a superseded secret was presented after its grace period',
          onReuse: policy?.onReuse ?? 'NOTIFY',
        });
        if (revoke) {
          await this.status.revokeRows(
            tx,
            token.tenantId,
            [token.id],
            'reuse detected: a superseded secret was presented after its grace period',
            now,
            null,
            false,
          );
        }
        const message = `the bearer token is past its grace period${revoke ? '; this is treated as reuse and the token is revoked' : ''}`;
        return {
          pickup: { ok: false, refusal: 'INVALID', message, revoked: revoke },
          changed: revoke ? token.id : null,
        };
      }
      if (!current.sealed || !current.sealedKeyId) {
        const why = 'the successor was handed out by a manual rotation';
        await refusal('TOKEN_SUCCESSOR_REFUSED', { reason: why });
        return { pickup: { ok: false, refusal: 'SUCCESSOR_UNAVAILABLE', message: why }, changed: null };
      }
      // Kept sealed until the grace ends (the retire job deletes it then): every holder, and every
      // retry, gets the same successor.
      const secret = this.seal.open({ id: current.id, sealed: current.sealed, sealedKeyId: current.sealedKeyId });
      if (!current.pickedUpAt)
        await tx.update(TokenSecretRow, { tenantId: token.tenantId, id: current.id }, { pickedUpAt: now });
      await event('TOKEN_SUCCESSOR_PICKED_UP', { firstPickup: !current.pickedUpAt });
      return {
        pickup: {
          ok: true,
          secret,
          tokenId: token.id,
          generation: current.generation,
          hint: current.hint,
          expiresAt: token.expiresAt,
          previousGraceEndsAt: old.graceEndsAt,
        },
        changed: null,
      };
    });
    if (outcome.changed) await this.changes.tokensChanged([outcome.changed]);
    return outcome.pickup;
  }
}
