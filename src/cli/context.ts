// What every command gets: a client for the server named by --url/LATCHKEY_URL, authenticated
// by LATCHKEY_TOKEN (or --token, with a warning), and the output format.
import { createInterface } from 'node:readline/promises';
import { type Command, InvalidArgumentError } from 'commander';
import { DurationError, parseDuration } from '../platform/iso-duration';
import { CredentialsClient } from '../client/credentials';
import { LatchkeyClient } from './client';
import { CliError, ExitCode, usage } from './errors';
import { type Format, Output } from './output';
import { visible } from './terminal-text';

export interface GlobalOptions {
  url?: string;
  token?: string;
  output: Format;
}

export interface Ctx {
  client: LatchkeyClient;
  out: Output;
  /** Reads credential values over REST with the same token (its owner must be granted). */
  credentials: CredentialsClient;
}

export function contextOf(cmd: Command): Ctx {
  const opts = cmd.optsWithGlobals<GlobalOptions>();
  const out = new Output(opts.output);
  const url = (opts.url ?? process.env.LATCHKEY_URL ?? 'http://127.0.0.1:4000').replace(/\/+$/, '');
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw usage(`--url ${JSON.stringify(url)} is not an http(s) URL`);
  }
  if (opts.token)
    out.note('warning: --token puts the token in your shell history and the process list; set LATCHKEY_TOKEN instead');
  const token = opts.token ?? process.env.LATCHKEY_TOKEN;
  if (!token) throw new CliError('no token: set LATCHKEY_TOKEN to a Latchkey CONTROL token', ExitCode.AUTH);
  return {
    client: new LatchkeyClient(url, token),
    out,
    credentials: new CredentialsClient({ url, token, maxAgeMs: 0 }),
  };
}

/** Asks on a terminal; refuses (usage, exit 3) when stdin is not one: scripts pass --yes. */
export async function confirm(question: string, verb: string): Promise<boolean> {
  if (!process.stdin.isTTY)
    throw usage(`refusing to ${verb} without confirmation: pass --yes (stdin is not a terminal)`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${visible(question)} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** Repeatable option values collect into a list. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

/** k=v pairs into an object. */
export function labelsOf(pairs: string[] | undefined): Record<string, string> | undefined {
  if (!pairs?.length) return undefined;
  return Object.fromEntries(
    pairs.map((p) => {
      const i = p.indexOf('=');
      if (i <= 0) throw usage(`--label ${JSON.stringify(p)} must look like key=value`);
      return [p.slice(0, i), p.slice(i + 1)];
    }),
  );
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const HUMAN_DURATION = /^(\d+)\s*(s|m|h|d|w)$/i;

/**
 * A duration as people write it (45s, 90m, 1h, 30d, 2w) or in ISO 8601 (PT1H, P30D), as the ISO 8601
 * the API takes. Anything else is a usage error that says what is accepted.
 */
export function durationArg(value: string): string {
  const v = value.trim();
  const human = HUMAN_DURATION.exec(v);
  if (human) {
    const n = Number(human[1]);
    const unit = human[2]!.toLowerCase();
    if (unit === 'd' || unit === 'w') return `P${unit === 'w' ? n * 7 : n}D`;
    return `PT${n}${unit.toUpperCase()}`;
  }
  try {
    parseDuration(v.toUpperCase());
    return v.toUpperCase();
  } catch (err) {
    if (!(err instanceof DurationError)) throw err;
    throw new InvalidArgumentError(
      `${JSON.stringify(value)} is not a duration: write 90m, 1h, 30d or 2w, or ISO 8601 such as PT1H or P30D`,
    );
  }
}

/** A whole number of at least 1 (for --limit); anything else is a usage error that says so. */
export function countArg(value: string): number {
  const v = value.trim();
  if (!/^\d+$/.test(v) || Number(v) < 1)
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not a whole number of at least 1`);
  return Number(v);
}
