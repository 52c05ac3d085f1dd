// Small pieces the policy-file diffs share: comparing values, ordering keys, and what a replaced
// token becomes for its overlap.
import type { TokenFieldsFragment } from './generated/graphql';
import { MANAGED_LABEL } from './policy-file';

export const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** A replaced token's last changes: an expiry after the overlap, a name saying so, no managed label. */
export function retiring(token: TokenFieldsFragment, overlapS: number) {
  const until = new Date(Date.now() + overlapS * 1000).toISOString();
  const { [MANAGED_LABEL.key]: _managed, ...labels } = token.labels as Record<string, string>;
  return { expiresAt: until, name: `${token.name} (replaced, until ${until})`.slice(0, 200), labels };
}

export function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}
