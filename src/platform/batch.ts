// Helpers for DataLoader batch functions: results in the order of the keys.

/** Groups items under the keys they belong to, in the order of keys. */
export function groupBy<T>(keys: readonly string[], items: readonly T[], keyOf: (item: T) => string): T[][] {
  const map = new Map<string, T[]>(keys.map((k) => [k, []]));
  for (const item of items) map.get(keyOf(item))?.push(item);
  return keys.map((k) => map.get(k)!);
}

/** One item (or null) per key. */
export function byKey<T>(keys: readonly string[], items: readonly T[], keyOf: (item: T) => string): Array<T | null> {
  const map = new Map(items.map((i) => [keyOf(i), i]));
  return keys.map((k) => map.get(k) ?? null);
}
