// ISO-8601 durations limited to weeks, days, hours, minutes and whole seconds: months and
// years have no fixed length, so they are refused rather than guessed.
const PATTERN = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;
const MAX_SECONDS = 100 * 365 * 86_400;

export class DurationError extends Error {}

/** Parses to whole seconds, or throws a DurationError saying what is wrong. */
export function parseDuration(text: string): number {
  const m = PATTERN.exec(text);
  if (!m || text === 'P' || text.endsWith('T')) {
    throw new DurationError(
      `${JSON.stringify(text)} is not an ISO-8601 duration in weeks, days, hours, minutes or seconds (for example P30D, PT12H, P1DT6H)`,
    );
  }
  const [w, d, h, min, s] = m.slice(1).map((x) => Number(x ?? 0)) as [number, number, number, number, number];
  const seconds = (((w * 7 + d) * 24 + h) * 60 + min) * 60 + s;
  if (seconds > MAX_SECONDS) throw new DurationError(`${JSON.stringify(text)} is longer than 100 years`);
  return seconds;
}

/** Canonical form: days, then a time part; PT0S for zero. */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return 'PT0S';
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3_600);
  const m = Math.floor((seconds % 3_600) / 60);
  const s = seconds % 60;
  const time = `${h ? `${h}H` : ''}${m ? `${m}M` : ''}${s ? `${s}S` : ''}`;
  return `P${d ? `${d}D` : ''}${time ? `T${time}` : ''}`;
}
