// The Postgres DataSource, creating the database when it is missing and running migrations
// under an advisory lock so that replicas starting together do not race.
import { Client, type Pool, type QueryResultRow } from 'pg';
import { DataSource, type DataSourceOptions, type EntityManager } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';

export type Tx = EntityManager;

/** What a DataSource is made of: the entity classes and the migrations, both listed by the caller (app/entities.ts). */
export interface Schema {
  entities: NonNullable<DataSourceOptions['entities']>;
  migrations: NonNullable<DataSourceOptions['migrations']>;
}

export function createDataSource(databaseUrl: string, { entities, migrations }: Schema, poolSize = 10): DataSource {
  return new DataSource({
    type: 'postgres',
    url: databaseUrl,
    entities,
    migrations,
    migrationsTableName: 'migrations',
    synchronize: false,
    logging: false,
    extra: { max: poolSize, connectionTimeoutMillis: 5_000, application_name: 'latchkey' },
  });
}

/**
 * A query run as a named prepared statement on the DataSource's pool: each connection parses and
 * plans it once, instead of on every call as TypeORM's query() does. For the hot lookups, whose
 * planning costs several times their execution.
 */
export async function preparedQuery<R extends QueryResultRow>(
  ds: DataSource,
  name: string,
  text: string,
  values: unknown[],
): Promise<R[]> {
  const pool = (ds.driver as PostgresDriver).master as Pool;
  return (await pool.query<R>({ name, text, values })).rows;
}

/** Creates the database named in the URL if it does not exist yet. */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`).catch((e: { code?: string }) => {
        // Another process created it first: 42P04 once it has committed, 23505 (on
        // pg_database's name index) while both creations were in flight.
        if (e.code !== '42P04' && e.code !== '23505') throw e;
      });
    }
  } finally {
    await client.end();
  }
}

const MIGRATION_LOCK = 0x4c41_5443; // "LATC"

/**
 * Runs pending migrations, then `afterMigrate` (bootstrap), holding one advisory lock so only
 * one starting process does either at a time.
 */
export async function migrate(ds: DataSource, afterMigrate: () => Promise<void>): Promise<string[]> {
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    const ran = await ds.runMigrations({ transaction: 'each' });
    await afterMigrate();
    return ran.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await runner.release();
  }
}

/** True when err is Postgres' unique violation, optionally of one named constraint/index. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string; driverError?: { code?: string; constraint?: string } };
  const code = e.code ?? e.driverError?.code;
  const name = e.constraint ?? e.driverError?.constraint;
  return code === '23505' && (constraint === undefined || name === constraint);
}
