// npm run admin:token -- [--tenant NAME] [--ttl PT1H] [--reason TEXT]
// Break glass: prints a new, short-lived token of the platform admin (the bootstrap owner, the only
// one that may create tenants) after its bootstrap token was retired, or with --tenant of that
// tenant's first administrator, when every admin token of the tenant is lost or revoked. It needs
// what the server needs (DATABASE_URL, TOKEN_PEPPER, ...): whoever holds those holds Latchkey
// anyway. Audited in the tenant's chain.
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { createContainer } from '../src/app/container';
import { ConfigError, loadConfig } from '../src/platform/config';
import { DurationError, parseDuration } from '../src/platform/iso-duration';
import { DomainError } from '../src/platform/errors';
import { createLogger } from '../src/platform/logger';

const USAGE =
  'usage: npm run admin:token -- [--tenant NAME] [--ttl PT1H] [--reason TEXT]   (the token is printed on stdout; at most P1D)';

async function main(): Promise<number> {
  let ttl = 3_600;
  let reason = 'break-glass admin token';
  let tenant: string | null = null;
  try {
    const { values } = parseArgs({
      options: { ttl: { type: 'string' }, reason: { type: 'string' }, tenant: { type: 'string' } },
      strict: true,
    });
    if (values.tenant !== undefined) tenant = values.tenant.trim() || null;
    if (values.ttl !== undefined) ttl = parseDuration(values.ttl);
    if (ttl < 60 || ttl > 86_400) throw new Error('--ttl must be from PT1M to P1D');
    if (values.reason !== undefined) reason = values.reason.trim().slice(0, 500) || reason;
  } catch (err) {
    console.error(`${err instanceof DurationError || err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return 64;
  }
  let config;
  try {
    config = loadConfig({ ...process.env, LATCHKEY_ROLE: 'worker' });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`latchkey: ${err.message}`);
      return 78;
    }
    throw err;
  }
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, { role: 'admin-token' });
  const container = await createContainer(config, log);
  try {
    const issued = await container.services.tenants.issueBreakGlassToken(ttl, reason, tenant);
    log.warn(
      {
        tokenId: issued.token.id,
        tenantId: issued.tenantId,
        ownerId: issued.ownerId,
        expiresAt: issued.token.expiresAt,
      },
      `issued a break-glass ${tenant ? 'tenant' : 'platform'} admin token`,
    );
    process.stdout.write(`${issued.secret}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    console.error(`latchkey: ${err.message}`);
    return err.code === 'NOT_FOUND' ? 66 : 1;
  } finally {
    await container.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`latchkey: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
