// The token's read-model beside its rows: usage as the last flushes wrote it, and the latest
// generations of its secrets, batched per page for the GraphQL loaders.
import type { DataSource } from 'typeorm';
import { groupBy } from '../platform/batch';
import { TenantScope } from '../platform/tenant-scope';
import { TokenSecretRow } from './token-secret.entity';
import type { DailyUsage } from './token.types';

/** Generations a token shows, newest first. */
export const SECRETS_SHOWN = 10;
/** Days one usage query may span (both ends included). */
export const USAGE_MAX_DAYS = 367;

export interface UsageSummary {
  usageCount: number;
  lastUsedAt: Date | null;
  lastClientIps: string[];
}

export class TokenUsage {
  constructor(private readonly ds: DataSource) {}

  /** Counts, last use and last client addresses of each token (what the last flushes wrote). */
  async usageSummaries(tenantId: string, tokenIds: readonly string[]): Promise<UsageSummary[]> {
    const rows: Array<{ token_id: string; usage_count: string; last_used_at: Date; last_client_ips: string[] }> =
      await this.ds.query(
        `SELECT token_id, usage_count, last_used_at, last_client_ips FROM token_usage WHERE tenant_id = $1 AND token_id = ANY($2)`,
        [tenantId, tokenIds],
      );
    const byId = new Map(rows.map((r) => [r.token_id, r]));
    return tokenIds.map((id) => {
      const r = byId.get(id);
      return r
        ? { usageCount: Number(r.usage_count), lastUsedAt: r.last_used_at, lastClientIps: r.last_client_ips }
        : { usageCount: 0, lastUsedAt: null, lastClientIps: [] };
    });
  }

  /** Verifications per UTC day between two instants, for each token. */
  async usageByTokenIds(tenantId: string, tokenIds: readonly string[], from: Date, to: Date): Promise<DailyUsage[][]> {
    const rows: Array<{ token_id: string; day: string; count: string }> = await this.ds.query(
      `SELECT token_id, to_char(day, 'YYYY-MM-DD') AS day, count FROM token_usage_daily
        WHERE tenant_id = $1 AND token_id = ANY($2) AND day BETWEEN ($3::timestamptz AT TIME ZONE 'UTC')::date AND ($4::timestamptz AT TIME ZONE 'UTC')::date
        ORDER BY day`,
      [tenantId, tokenIds, from, to],
    );
    return groupBy(tokenIds, rows, (r) => r.token_id).map((rs) =>
      rs.map((r) => ({ day: r.day, count: Number(r.count) })),
    );
  }

  /** The latest generations of each token's secrets, newest first. */
  async secretsByTokenIds(tenantId: string, tokenIds: readonly string[]): Promise<TokenSecretRow[][]> {
    const rows = await new TenantScope(this.ds.manager, tenantId)
      .select(TokenSecretRow, 's')
      .andWhere('s.tokenId IN (:...tokenIds)', { tokenIds })
      .andWhere(
        `s.generation > (SELECT max(x.generation) FROM token_secrets x WHERE x.token_id = s.token_id) - :shown`,
        { shown: SECRETS_SHOWN },
      )
      .orderBy('s.generation', 'DESC')
      .getMany();
    return groupBy(tokenIds, rows, (r) => r.tokenId);
  }
}
