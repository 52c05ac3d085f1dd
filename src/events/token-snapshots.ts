// Tokens as events show them: the row as it is now, with its scopes and owner.
import type { DataSource } from 'typeorm';
import type { AuditEvent } from '../audit/audit-event.entity';
import { Owner } from '../owners/owner.entity';
import { TenantScope } from '../platform/tenant-scope';
import type { ScopeService } from '../scopes/scope.service';
import { TokenRow } from '../tokens/token.entity';
import type { TokenSnapshot } from './published-event';

export async function tokenSnapshots(
  ds: DataSource,
  scopes: ScopeService,
  tenantId: string,
  events: readonly AuditEvent[],
): Promise<Map<string, TokenSnapshot>> {
  const ids = [...new Set(events.filter((e) => e.targetType === 'TOKEN').map((e) => e.targetId))];
  if (ids.length === 0) return new Map();
  const scope = new TenantScope(ds.manager, tenantId);
  const rows = await scope.findByIds(TokenRow, ids);
  const tokenScopes = await scopes.byTokenIds(
    tenantId,
    rows.map((r) => r.id),
  );
  const owners = new Map(
    (await scope.findByIds(Owner, [...new Set(rows.map((r) => r.ownerId))])).map((o) => [o.id, o]),
  );
  return new Map(rows.map((row, i) => [row.id, { row, scopes: tokenScopes[i]!, owner: owners.get(row.ownerId)! }]));
}
