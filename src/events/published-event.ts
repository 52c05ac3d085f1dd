// What the relay publishes for each audit event: the event as stored, and for token events the
// token as it is now (no secret is part of either), so subscribers need no query to answer.
import type { AuditEvent } from '../audit/audit-event.entity';
import type { Owner } from '../owners/owner.entity';
import type { Scope } from '../scopes/scope.entity';
import type { TokenRow } from '../tokens/token.entity';

export interface TokenSnapshot {
  row: TokenRow;
  scopes: Scope[];
  owner: Owner;
}

export interface PublishedEvent {
  event: AuditEvent;
  token?: TokenSnapshot;
}

/** Dates arrive from JSON as strings: give them back their type. */
export function revive(p: PublishedEvent): PublishedEvent {
  const e = p.event;
  const event = { ...e, at: new Date(e.at) };
  if (!p.token) return { event };
  const r = p.token.row;
  const date = (v: Date | string | null) => (v === null ? null : new Date(v));
  return {
    event,
    token: {
      row: {
        ...r,
        expiresAt: date(r.expiresAt),
        nextRotationAt: date(r.nextRotationAt),
        createdAt: new Date(r.createdAt),
        updatedAt: new Date(r.updatedAt),
        revokedAt: date(r.revokedAt),
      },
      scopes: p.token.scopes,
      owner: {
        ...p.token.owner,
        createdAt: new Date(p.token.owner.createdAt),
        updatedAt: new Date(p.token.owner.updatedAt),
      },
    },
  };
}
