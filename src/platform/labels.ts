// Labels: a small string-to-string map for grouping and filtering (team=crm, widget=sales) on tokens and credentials.
import { badInput } from './errors';

const KEY = /^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$/;
const MAX_LABELS = 32;
const MAX_VALUE = 256;

export function validateLabels(
  labels: Record<string, unknown> | null | undefined,
  argument = 'labels',
): Record<string, string> {
  if (!labels) return {};
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) throw badInput(`at most ${MAX_LABELS} labels are allowed`, { argument });
  const out: Record<string, string> = {};
  for (const [key, value] of entries) {
    if (!KEY.test(key)) {
      throw badInput(`label key ${JSON.stringify(key)} must be 1-63 lower-case letters, digits, ".", "_", "/" or "-"`, {
        argument,
      });
    }
    if (typeof value !== 'string' || value.length > MAX_VALUE) {
      throw badInput(`label ${JSON.stringify(key)} must have a string value of at most ${MAX_VALUE} characters`, {
        argument,
      });
    }
    out[key] = value;
  }
  return out;
}
