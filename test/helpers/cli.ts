// The latchkey executable as users run it: a subprocess of bin/latchkey.js talking to a server.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';

export const BIN = resolve(__dirname, '..', '..', 'bin', 'latchkey.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Environment beyond PATH, LATCHKEY_URL and LATCHKEY_TOKEN (undefined removes one). */
  env?: Record<string, string | undefined>;
  /** What the command reads on stdin (nothing by default). */
  input?: string;
  token?: string;
  /** Run under a pseudo-terminal (util-linux `script`), so the command sees a TTY and may ask; stderr then arrives on stdout. */
  terminal?: boolean;
}

const quoted = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

/**
 * A runner for one server and token. Asynchronous on purpose: a test's server lives in the test's
 * own event loop, so a synchronous child would wait for an answer that never comes.
 */
export function cliRunner(url: () => string, token: () => string) {
  return (args: string[], opts: CliOptions = {}): Promise<CliRun> =>
    new Promise((done) => {
      const [file, argv] = opts.terminal
        ? ['script', ['-qec', [process.execPath, BIN, ...args].map(quoted).join(' '), '/dev/null']]
        : [process.execPath, [BIN, ...args]];
      const child = execFile(
        file,
        argv,
        {
          env: {
            PATH: process.env.PATH,
            LATCHKEY_URL: url(),
            LATCHKEY_TOKEN: opts.token ?? token(),
            ...(opts.terminal ? { TERM: 'dumb' } : {}),
            ...opts.env,
          },
          timeout: 30_000,
        },
        (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      child.stdin!.end(opts.input ?? '');
    });
}
