// An instant as people write it in a policy file or an option: a date (midnight UTC, 2027-03-31)
// or a date and time with its offset (2027-03-31T18:00:00+02:00), as the ISO 8601 the API takes.
import { InvalidArgumentError } from 'commander';

const FORM = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** The instant in UTC, or null when it is not one (Date would roll 2027-02-30 over into March). */
export function parseInstant(value: string): string | null {
  const v = value.trim();
  if (!FORM.test(v)) return null;
  const at = new Date(v.includes('T') ? v : `${v}T00:00:00Z`);
  const [y, m, d] = v.slice(0, 10).split('-').map(Number);
  const day = new Date(Date.UTC(y!, m! - 1, d));
  if (Number.isNaN(at.getTime()) || day.getUTCMonth() !== m! - 1 || day.getUTCDate() !== d) return null;
  return at.toISOString();
}

/** For --expires-at: a usage error that says what is accepted. */
export function instantArg(value: string): string {
  const at = parseInstant(value);
  if (at === null)
    throw new InvalidArgumentError(
      `${JSON.stringify(value)} is not a date: write 2027-03-31 (midnight UTC) or 2027-03-31T18:00:00+02:00`,
    );
  return at;
}
