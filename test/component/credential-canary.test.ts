// A canary value through everything a credential goes through (created, revealed over REST and
// GraphQL, revalidated, replaced, retired by the workers, its events delivered to a webhook),
// served by a real Latchkey process logging at debug; then grepped for across a dump of the whole
// database, every key and value this process left in Redis, its logs and every webhook body.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys } from '../../scripts/shared/infra';
import { type GraphqlClient, graphqlAt, startTestApi, type TestApi, testEnv } from '../helpers/api';
import { newTenant, type TenantFixture } from '../helpers/fixtures';
import { ownDatabase } from '../helpers/own-database';
import { type LatchkeyProcess, spawnLatchkey } from '../helpers/process';
import { CreateCredentialDocument, GrantCredentialDocument, RevealCredentialDocument } from '../generated/graphql';

const CANARY = `canary-${randomBytes(8).toString('hex')}`;
const db = ownDatabase('canary');
const PREFIX = db.env.REDIS_PREFIX!;
let api: TestApi;
let server: LatchkeyProcess;
/** GraphQL to the Latchkey process. */
let served: GraphqlClient;
let t: TenantFixture;
let receiver: Server;
const bodies: string[] = [];

async function redisContents(): Promise<string> {
  const redis = new Redis(testEnv().REDIS_URL!);
  const parts: string[] = [];
  for await (const keys of redisKeys(redis, PREFIX)) {
    for (const key of keys) {
      parts.push(key);
      const type = await redis.type(key);
      if (type === 'string') parts.push((await redis.get(key)) ?? '');
      else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, 0, -1)));
      else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    }
  }
  await redis.quit();
  return parts.join('\n');
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      bodies.push(body);
      res.writeHead(204).end();
    });
  }).listen(0, '127.0.0.1');
  await new Promise((r) => receiver.once('listening', r));
  api = await startTestApi(db.env);
  t = await newTenant(api, db.bootstrapToken());
  server = await spawnLatchkey({ ...db.env, LOG_LEVEL: 'debug', PLANNER_TICK_MS: '200' });
  served = graphqlAt(server.url!);
});

afterAll(async () => {
  await server?.stop();
  await api?.close();
  receiver?.close();
  await db.drop();
});

describe('a credential value', () => {
  it('appears nowhere but in the answers that hand it out', async () => {
    await served.ok(
      t.adminToken,
      `mutation($u: String!) { createWebhook(url: $u, events: ["*"]) { webhook { id } } }`,
      { u: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` },
    );
    await served.ok(t.adminToken, CreateCredentialDocument, { input: { name: 'crm-canary', value: CANARY } });
    await served.ok(t.adminToken, GrantCredentialDocument, { name: 'crm-canary', ownerId: t.adminId });
    expect(
      (await served.ok(t.adminToken, RevealCredentialDocument, { name: 'crm-canary' })).revealCredential.value,
    ).toBe(CANARY);
    const rest = await fetch(`${server.url}/v1/credentials/crm-canary`, {
      headers: { authorization: `Bearer ${t.adminToken}` },
    });
    expect(((await rest.json()) as { value: string }).value).toBe(CANARY);
    const etag = rest.headers.get('etag')!;
    expect(
      (
        await fetch(`${server.url}/v1/credentials/crm-canary`, {
          headers: { authorization: `Bearer ${t.adminToken}`, 'if-none-match': etag },
        })
      ).status,
    ).toBe(304);
    // Refusals with the value in the input: an oversized one, and one under a bad name.
    await expect(
      served.ok(t.adminToken, CreateCredentialDocument, { input: { name: 'Bad Name', value: CANARY } }),
    ).rejects.toThrow(/BAD_USER_INPUT/);
    await served.ok(
      t.adminToken,
      `mutation($v: String!) { addCredentialVersion(input: { name: "crm-canary", value: $v, gracePeriod: "PT1S" }) { version } }`,
      { v: `${CANARY}-2` },
    );
    await served.ok(
      t.adminToken,
      `mutation($v: String!) { addCredentialVersion(input: { name: "crm-canary", value: $v, gracePeriod: "PT1S" }) { version } }`,
      { v: 'unrelated-third-value' },
    );
    // The workers retire version 2 when its second of grace is over, and deliver every event.
    await expect
      .poll(
        async () =>
          (
            await api.sql(
              `SELECT count(*)::int AS n FROM credential_versions v JOIN credentials c ON c.id = v.credential_id WHERE c.tenant_id = $1 AND v.state = 'RETIRED'`,
              [t.tenantId],
            )
          )[0].n,
        { timeout: 15_000 },
      )
      .toBe(2);
    await expect
      .poll(() => bodies.filter((b) => b.includes('CREDENTIAL_VERSION_RETIRED')).length, { timeout: 15_000 })
      .toBe(2);
    expect(bodies.some((b) => b.includes('CREDENTIAL_REVEALED'))).toBe(true);

    const dump = execFileSync('pg_dump', ['--data-only', db.env.DATABASE_URL!], {
      encoding: 'utf8',
      maxBuffer: 512 * 1024 * 1024,
    });
    expect(dump).toContain('crm-canary'); // the dump holds the credential's rows...
    expect(dump).not.toContain(CANARY); // ...never its values
    const redis = await redisContents();
    expect(redis.length).toBeGreaterThan(0);
    expect(redis).not.toContain(CANARY);
    expect(server.logs().length).toBeGreaterThan(3);
    expect(server.output()).not.toContain(CANARY);
    expect(bodies.join('\n')).not.toContain(CANARY);
  });
});
