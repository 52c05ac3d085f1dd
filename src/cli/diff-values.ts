// Small pieces the policy-file diffs share: comparing values and names, ordering keys, and what a
// replaced token becomes for its overlap.
import type { TokenFieldsFragment } from './generated/graphql';
import { MANAGED_LABEL } from './policy-file';

export const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Policies and roles match by name case-insensitively, as the server does. */
export const key = (s: string) => s.toLowerCase();

export interface FieldChange {
  field: string;
  before: unknown;
  after: unknown;
  /** Why changing this field takes a new token (the change is then a replacement). */
  forcesReplacement?: string;
}

/** The fields of `after` whose value differs in `before`. */
export function diffFields(before: Record<string, unknown>, after: Record<string, unknown>): FieldChange[] {
  return Object.keys(after)
    .filter((k) => !same(before[k], after[k]))
    .map((field) => ({ field, before: before[field] ?? null, after: after[field] ?? null }));
}

/**
 * A replaced token's last changes: a name saying until when it works, no managed label, and an
 * expiry at the end of the overlap (unless it expires sooner anyway: an expiry never moves later).
 */
export function retiring(token: TokenFieldsFragment, overlapS: number) {
  const end = Date.now() + overlapS * 1000;
  const sooner = token.expiresAt !== null && token.expiresAt !== undefined && Date.parse(token.expiresAt) <= end;
  const until = new Date(sooner ? Date.parse(token.expiresAt!) : end).toISOString();
  const { [MANAGED_LABEL.key]: _managed, ...labels } = token.labels as Record<string, string>;
  return {
    ...(sooner ? {} : { expiresAt: until }),
    name: `${token.name} (replaced, until ${until})`.slice(0, 200),
    labels,
  };
}

export function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}
