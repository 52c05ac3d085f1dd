// A Postgres server of a test's own, on a free loopback port, that checks passwords (the machine's
// Postgres trusts every local connection, so a refused password cannot be seen there): `postgres`
// is trusted from 127.0.0.1, every other role must present its password (SCRAM).
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../scripts/shared/infra';

export interface PgProcess {
  /** The superuser's URL (trusted). */
  adminUrl: string;
  port: number;
  /** What the server logged so far (with `logStatements: 'ddl'`, every CREATE and DROP). */
  log(): string;
  stop(): void;
}

const bin = (name: string) => {
  const version = readdirSync('/usr/lib/postgresql').sort().at(-1)!;
  return join('/usr/lib/postgresql', version, 'bin', name);
};

/** Runs a Postgres binary as the postgres user (initdb refuses root). */
function asPostgres(args: string[]): void {
  const r = spawnSync('runuser', ['-u', 'postgres', '--', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args[0]} failed: ${r.stderr || r.stdout}`);
}

export async function startPgProcess(opts: { logStatements?: 'none' | 'ddl' } = {}): Promise<PgProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-pg-'));
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  asPostgres([bin('initdb'), '-D', data, '-U', 'postgres', '--auth=scram-sha-256', '--no-sync', '-A', 'trust']);
  writeFileSync(
    join(data, 'pg_hba.conf'),
    ['host all postgres 127.0.0.1/32 trust', 'host all all 127.0.0.1/32 scram-sha-256', ''].join('\n'),
  );
  const port = await freePort();
  const log = join(dir, 'log');
  asPostgres([
    bin('pg_ctl'),
    '-D',
    data,
    '-w',
    '-l',
    log,
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c log_statement=${opts.logStatements ?? 'none'}`,
    'start',
  ]);
  return {
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    log: () => readFileSync(log, 'utf8'),
    stop() {
      spawnSync('runuser', ['-u', 'postgres', '--', bin('pg_ctl'), '-D', data, '-m', 'immediate', 'stop'], {
        stdio: 'ignore',
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
