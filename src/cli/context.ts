// What every command gets: a client for the server named by --url/LATCHKEY_URL, authenticated
// by LATCHKEY_TOKEN (or --token, with a warning), and the output format.
import type { Command } from 'commander';
import { LatchkeyClient } from './client';
import { CliError, ExitCode, usage } from './errors';
import { type Format, Output } from './output';

export interface GlobalOptions {
  url?: string;
  token?: string;
  output: Format;
}

export interface Ctx {
  client: LatchkeyClient;
  out: Output;
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
  if (opts.token) out.note('warning: --token puts the token in your shell history and the process list; set LATCHKEY_TOKEN instead');
  const token = opts.token ?? process.env.LATCHKEY_TOKEN;
  if (!token) throw new CliError('no token: set LATCHKEY_TOKEN to a Latchkey token (issued without scopes)', ExitCode.AUTH);
  return { client: new LatchkeyClient(url, token), out };
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
