// Relay-style connections: keyset pagination over a stable order, opaque cursors.
import { badInput } from './errors';
import { encodeCursor } from './ids';

export const DEFAULT_PAGE = 20;
export const MAX_PAGE = 100;

export interface Connection<T> {
  edges: Array<{ cursor: string; node: T }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: number;
}

export function pageSize(first: number | null | undefined): number {
  if (first === null || first === undefined) return DEFAULT_PAGE;
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE) {
    throw badInput(`first must be between 0 and ${MAX_PAGE}, got ${first}`, { argument: 'first' });
  }
  return first;
}

/** Builds a connection from up to limit+1 rows fetched in order (the extra one signals more). */
export function connection<T, N = T>(
  rows: T[],
  limit: number,
  totalCount: number,
  key: (row: T) => string | number,
  toNode: (row: T) => N = (r) => r as unknown as N,
): Connection<N> {
  const page = rows.slice(0, limit);
  const edges = page.map((row) => ({ cursor: encodeCursor(key(row)), node: toNode(row) }));
  return {
    edges,
    pageInfo: { hasNextPage: rows.length > limit, endCursor: edges.at(-1)?.cursor ?? null },
    totalCount,
  };
}
