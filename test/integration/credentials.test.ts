// Managed credentials end to end through GraphQL and GET /v1/credentials/{name}, against real
// Postgres: sealed values, grants, reveals audited before they leave, ETags, versions by hand,
// the clock's retirements and expiry warnings, and bad input that changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonOf, startTestApi, type TestApi } from '../helpers/api';
import { createScopes, issue, newPrincipal, newTenant, type TenantFixture, unique } from '../helpers/fixtures';
import { wsClient } from '../helpers/ws';
import { CreateOwnerDocument, CreateRotationPolicyDocument } from '../generated/graphql';

let api: TestApi;
let t: TenantFixture;
/** homepage-dashboard-backend: a SERVICE owner granted to read, with a CONTROL token (`token`) and a DATA token for the CRM (`data`). */
let backend: { ownerId: string; token: string; data: string };

const CREATE = `mutation($i: CreateCredentialInput!) { createCredential(input: $i) { id name service ownerId currentVersion { version state expiresAt } } }`;
const ADD = `mutation($i: AddCredentialVersionInput!) { addCredentialVersion(input: $i) { version state } }`;
const GRANT = `mutation($n: String!, $o: ID!) { grantCredential(name: $n, ownerId: $o) { ownerId grantedBy } }`;
const REVEAL = `mutation($n: String!, $v: Int) { revealCredential(name: $n, version: $v) { name version value expiresAt } }`;

const get = (name: string, token: string, headers: Record<string, string> = {}, query = '') =>
  fetch(`${api.url}/v1/credentials/${name}${query}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
const events = async (action: string, targetId: string) =>
  await api.sql(
    `SELECT seq, actor_id, data FROM audit_events WHERE tenant_id = $1 AND action = $2 AND target_id = $3 ORDER BY seq`,
    [t.tenantId, action, targetId],
  );
const counts = async () =>
  (
    await api.sql(
      `SELECT (SELECT count(*) FROM credentials WHERE tenant_id = $1)::int AS credentials, (SELECT count(*) FROM credential_versions WHERE tenant_id = $1)::int AS versions, (SELECT count(*) FROM audit_events WHERE tenant_id = $1)::int AS events`,
      [t.tenantId],
    )
  )[0];

async function newCredential(
  value = 'crm-key-v1',
  extra: Record<string, unknown> = {},
): Promise<{ id: string; name: string }> {
  const name = unique('crm').toLowerCase();
  const { createCredential } = await api.ok(t.adminToken, CREATE, {
    i: { name, service: 'salesforce', value, ...extra },
  });
  await api.ok(t.adminToken, GRANT, { n: name, o: backend.ownerId });
  return { id: createCredential.id, name };
}

beforeAll(async () => {
  api = await startTestApi();
  t = await newTenant(api);
  await createScopes(api, t.adminToken, ['crm:accounts:read']);
  const { createOwner } = await api.ok(t.adminToken, CreateOwnerDocument, {
    input: { kind: 'SERVICE', name: 'homepage-dashboard-backend', allowedScopes: ['crm:accounts:read'] },
  });
  backend = {
    ownerId: createOwner.id,
    token: (await issue(api, t.adminToken, createOwner.id, [])).secret,
    data: (await issue(api, t.adminToken, createOwner.id, ['crm:accounts:read'])).secret,
  };
});

afterAll(async () => {
  await api?.close();
});

describe('managed credentials', () => {
  it('hands a granted consumer the value over REST, no-store, with an ETag, audited before it answered', async () => {
    const c = await newCredential('crm-key-v1');
    const res = await get(c.name, backend.token);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const etag = res.headers.get('etag');
    expect(etag).toMatch(/^"[0-9a-f-]{36}"$/);
    expect(await res.json()).toEqual({
      name: c.name,
      version: 1,
      value: 'crm-key-v1',
      expiresAt: null,
      graceEndsAt: null,
      nextRotationAt: null,
    });
    // The event was committed before the answer was sent: it is there the moment the answer is.
    const [revealed] = await events('CREDENTIAL_REVEALED', c.id);
    expect(revealed.actor_id).toBe(backend.ownerId);
    expect(revealed.data).toMatchObject({ name: c.name, version: 1, door: 'rest', clientIp: '127.0.0.1' });
    expect(JSON.stringify(revealed.data)).not.toContain('crm-key-v1');

    // A revalidation whose ETag still matches: 304, no value, not a reveal.
    const again = await get(c.name, backend.token, { 'if-none-match': etag! });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    expect(await events('CREDENTIAL_REVEALED', c.id)).toHaveLength(1);
  });

  it('refuses a DATA token of the granted owner with 401, writing nothing: credentials are read with CONTROL tokens', async () => {
    const c = await newCredential('crm-key-v1');
    const before = await counts();
    const res = await get(c.name, backend.data);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('invalid_token');
    const body = await jsonOf(res);
    expect(body.error).toEqual({
      code: 'UNAUTHENTICATED',
      message: 'this is a DATA token; credentials are read with a CONTROL token of the granted owner',
      requestId: res.headers.get('x-request-id'),
    });
    expect(JSON.stringify(body)).not.toContain('crm-key-v1');
    expect((await api.gql(backend.data, REVEAL, { n: c.name })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(await counts()).toEqual(before);
  });

  it('never shows a value in metadata: versions have no value field', async () => {
    const c = await newCredential();
    const r = await api.gql(
      t.adminToken,
      `query($n: String!) { credential(name: $n) { versions { edges { node { value } } } } }`,
      { n: c.name },
    );
    expect(r.errors?.[0]?.message).toMatch(/Cannot query field "value"/);
    const { credential } = await api.ok(
      t.adminToken,
      `query($n: String!) { credential(name: $n) { name service versions { totalCount edges { node { version state } } } readers { ownerId } } }`,
      { n: c.name },
    );
    expect(credential).toEqual({
      name: c.name,
      service: 'salesforce',
      versions: { totalCount: 1, edges: [{ node: { version: 1, state: 'CURRENT' } }] },
      readers: [{ ownerId: backend.ownerId }],
    });
  });

  it('refuses a reader without a grant alike for a missing credential, auditing the refusal; an admin must grant itself first', async () => {
    const c = await newCredential();
    const refused = await api.gql(t.adminToken, REVEAL, { n: c.name });
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const missing = await api.gql(t.adminToken, REVEAL, { n: 'no-such-credential' });
    expect(missing.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(missing.errors?.[0]?.message).toBe(
      'no grant to read credential no-such-credential (or no such credential in this tenant)',
    );
    expect(await events('CREDENTIAL_REVEAL_REFUSED', c.id)).toHaveLength(1);
    expect(await events('CREDENTIAL_REVEALED', c.id)).toHaveLength(0);

    await api.ok(t.adminToken, GRANT, { n: c.name, o: t.adminId });
    const [granted] = (await events('CREDENTIAL_GRANTED', c.id)).filter(
      (e: { data: { ownerId: string } }) => e.data.ownerId === t.adminId,
    );
    expect(granted.data).toMatchObject({ self: true });
    const { revealCredential } = await api.ok(t.adminToken, REVEAL, { n: c.name });
    expect(revealCredential).toEqual({ name: c.name, version: 1, value: 'crm-key-v1', expiresAt: null });
    expect((await events('CREDENTIAL_REVEALED', c.id))[0].data).toMatchObject({ door: 'graphql' });

    expect(
      (
        await api.ok(t.adminToken, `mutation($n: String!, $o: ID!) { revokeCredentialAccess(name: $n, ownerId: $o) }`, {
          n: c.name,
          o: t.adminId,
        })
      ).revokeCredentialAccess,
    ).toBe(true);
    expect((await api.gql(t.adminToken, REVEAL, { n: c.name })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('needs CREDENTIAL_READ to list and CREDENTIAL_WRITE to change; a developer has neither', async () => {
    const dev = await newPrincipal(api, t.adminToken, ['developer']);
    expect((await api.gql(dev.token, `{ credentials { totalCount } }`)).errors?.[0]?.extensions?.code).toBe(
      'FORBIDDEN',
    );
    const before = await counts();
    const r = await api.gql(dev.token, CREATE, { i: { name: 'dev-made', value: 'x' } });
    expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await counts()).toEqual(before);
    const auditor = await newPrincipal(api, t.adminToken, ['auditor']);
    expect((await api.ok(auditor.token, `{ credentials { totalCount } }`)).credentials.totalCount).toBeGreaterThan(0);
  });

  it('adds a version by hand: the old one stays readable by number through its grace, then a newer one retires it', async () => {
    const c = await newCredential('v1-value');
    const first = await get(c.name, backend.token);
    const oldTag = first.headers.get('etag')!;
    expect(
      (await api.ok(t.adminToken, ADD, { i: { name: c.name, value: 'v2-value', gracePeriod: 'PT1H' } }))
        .addCredentialVersion,
    ).toEqual({ version: 2, state: 'CURRENT' });

    const changed = await get(c.name, backend.token, { 'if-none-match': oldTag });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(oldTag);
    expect(await changed.json()).toMatchObject({ version: 2, value: 'v2-value' });
    const previous = await get(c.name, backend.token, {}, '?version=1');
    expect(previous.status).toBe(200);
    const body = await jsonOf(previous);
    expect(body).toMatchObject({ version: 1, value: 'v1-value' });
    expect(Date.parse(body.graceEndsAt)).toBeGreaterThan(Date.now() + 3_500_000);

    await api.ok(t.adminToken, ADD, { i: { name: c.name, value: 'v3-value', gracePeriod: 'PT0S' } });
    const rows = await api.sql(
      `SELECT version, state, ciphertext IS NULL AS destroyed FROM credential_versions WHERE credential_id = $1 ORDER BY version`,
      [c.id],
    );
    expect(rows).toEqual([
      { version: 1, state: 'RETIRED', destroyed: true },
      { version: 2, state: 'RETIRED', destroyed: true },
      { version: 3, state: 'CURRENT', destroyed: false },
    ]);
    expect((await get(c.name, backend.token, {}, '?version=1')).status).toBe(404);
    expect(await events('CREDENTIAL_VERSION_RETIRED', c.id)).toHaveLength(2);
  });

  it('keeps exactly one CURRENT version under concurrent additions', async () => {
    const c = await newCredential();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        api.gql(t.adminToken, ADD, { i: { name: c.name, value: `concurrent-${i}`, gracePeriod: 'PT1H' } }),
      ),
    );
    expect(results.filter((r) => r.errors)).toEqual([]);
    const rows = await api.sql(
      `SELECT state, count(*)::int AS n FROM credential_versions WHERE credential_id = $1 GROUP BY state ORDER BY state`,
      [c.id],
    );
    expect(rows).toEqual([
      { state: 'CURRENT', n: 1 },
      { state: 'PREVIOUS', n: 1 },
      { state: 'RETIRED', n: 9 },
    ]);
    const versions = results.map((r) => r.data.addCredentialVersion.version).sort((a: number, b: number) => a - b);
    expect(versions).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('refuses bad input with a typed error and writes nothing', async () => {
    const c = await newCredential();
    const other = await newTenant(api);
    const before = await counts();
    const cases: Array<[string, Record<string, unknown>, string]> = [
      [CREATE, { i: { name: unique('empty'), value: '' } }, 'BAD_USER_INPUT'],
      [CREATE, { i: { name: unique('big'), value: 'x'.repeat(64 * 1024 + 1) } }, 'BAD_USER_INPUT'],
      [CREATE, { i: { name: 'Upper Case', value: 'x' } }, 'BAD_USER_INPUT'],
      [CREATE, { i: { name: c.name, value: 'x' } }, 'CONFLICT'],
      [CREATE, { i: { name: unique('lbl'), value: 'x', labels: { 'Bad Key': 'x' } } }, 'BAD_USER_INPUT'],
      [ADD, { i: { name: c.name, value: 'x', gracePeriod: 'P91D' } }, 'BAD_USER_INPUT'],
      [ADD, { i: { name: c.name, value: '', gracePeriod: 'PT1H' } }, 'BAD_USER_INPUT'],
      [ADD, { i: { name: 'no-such-credential', value: 'x', gracePeriod: 'PT1H' } }, 'NOT_FOUND'],
    ];
    for (const [query, variables, code] of cases) {
      const r = await api.gql(t.adminToken, query, variables);
      expect(r.errors?.[0]?.extensions?.code, JSON.stringify(variables).slice(0, 80)).toBe(code);
    }
    // Another tenant's admin: the name means nothing there.
    expect(
      (await api.gql(other.adminToken, ADD, { i: { name: c.name, value: 'x', gracePeriod: 'PT1H' } })).errors?.[0]
        ?.extensions?.code,
    ).toBe('NOT_FOUND');
    const cross = await get(c.name, other.adminToken);
    expect(cross.status).toBe(403);
    expect(await counts()).toEqual(before);
    const big = await get(c.name, backend.token, {}, '?version=zero');
    expect(big.status).toBe(400);
  });

  it('does not open a ciphertext copied onto another row, and hands nothing out then', async () => {
    const a = await newCredential('value-of-a');
    const b = await newCredential('value-of-b');
    await api.sql(
      `UPDATE credential_versions SET ciphertext = (SELECT ciphertext FROM credential_versions WHERE credential_id = $1 AND state = 'CURRENT') WHERE credential_id = $2 AND state = 'CURRENT'`,
      [a.id, b.id],
    );
    const res = await get(b.name, backend.token);
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(text).not.toContain('value-of-a');
    expect(await events('CREDENTIAL_REVEALED', b.id)).toHaveLength(0);
  });

  it('retires a PREVIOUS version when its grace ends, and warns about then reports a vendor expiry, once each', async () => {
    const c = await newCredential('expiring', { expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
    await api.ok(t.adminToken, ADD, {
      i: {
        name: c.name,
        value: 'next',
        gracePeriod: 'PT1H',
        expiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
      },
    });
    const jobs = api.container.services.credentialJobs;
    // The first version expires within a day: a warning is due now.
    await jobs.sweep();
    expect(
      (await events('CREDENTIAL_EXPIRING', c.id)).map((e: { data: { version: number } }) => e.data.version),
    ).toEqual([1]);
    await jobs.sweep();
    expect(await events('CREDENTIAL_EXPIRING', c.id)).toHaveLength(1);

    await api.sql(
      `UPDATE credential_versions SET grace_ends_at = now() - interval '1 second', expires_at = now() - interval '1 second', next_notify_at = now() - interval '1 second' WHERE credential_id = $1 AND version = 1`,
      [c.id],
    );
    // Both are due; the retirement goes first and takes the version out of the expiry's view.
    await jobs.sweep();
    const [v1] = await api.sql(
      `SELECT state, ciphertext FROM credential_versions WHERE credential_id = $1 AND version = 1`,
      [c.id],
    );
    expect(v1).toEqual({ state: 'RETIRED', ciphertext: null });
    expect(
      (await events('CREDENTIAL_VERSION_RETIRED', c.id)).map((e: { actor_id: string | null }) => e.actor_id),
    ).toEqual([null]);
    const v2 = await api.sql(
      `SELECT next_notify_at FROM credential_versions WHERE credential_id = $1 AND version = 2`,
      [c.id],
    );
    expect(v2[0].next_notify_at.getTime()).toBeGreaterThan(Date.now() + 22 * 86_400_000);

    // A CURRENT version past its vendor expiry is reported once.
    await api.sql(
      `UPDATE credential_versions SET expires_at = now() - interval '1 second', next_notify_at = now() - interval '1 second' WHERE credential_id = $1 AND version = 2`,
      [c.id],
    );
    await jobs.sweep();
    await jobs.sweep();
    expect(
      (await events('CREDENTIAL_EXPIRED', c.id)).map((e: { data: { version: number } }) => e.data.version),
    ).toEqual([2]);
  });

  it("times expiry warnings by a rotation policy's notifyBefore when the credential has one", async () => {
    const { createRotationPolicy } = await api.ok(t.adminToken, CreateRotationPolicyDocument, {
      input: { name: unique('warn'), gracePeriod: 'PT1H', notifyBefore: ['PT2H'] },
    });
    // The policy is set before a version with an expiry exists: no worker's sweep can warn early.
    const c = await newCredential('policy-timed');
    await api.ok(
      t.adminToken,
      `mutation($n: String!, $p: String) { updateCredential(name: $n, input: { rotationPolicyId: $p }) { rotationPolicyId } }`,
      { n: c.name, p: createRotationPolicy.id },
    );
    const expiresAt = Date.now() + 3 * 3_600_000;
    await api.ok(t.adminToken, ADD, {
      i: { name: c.name, value: 'with-expiry', gracePeriod: 'PT0S', expiresAt: new Date(expiresAt).toISOString() },
    });
    const [v2] = await api.sql(
      `SELECT next_notify_at FROM credential_versions WHERE credential_id = $1 AND version = 2`,
      [c.id],
    );
    // Two hours before (without a policy: at once, a day before having passed).
    expect(Math.abs(v2.next_notify_at.getTime() - (expiresAt - 2 * 3_600_000))).toBeLessThan(2_000);
    await api.container.services.credentialJobs.sweep();
    expect(await events('CREDENTIAL_EXPIRING', c.id)).toHaveLength(0);
    expect((await events('CREDENTIAL_UPDATED', c.id))[0].data).toMatchObject({
      rotationPolicyId: createRotationPolicy.id,
    });
  });
});

describe('refused reads cost the prober, not the audit log', () => {
  it('a token refused again and again gets 429 with Retry-After past its burst, and one event a minute (plus one with the count)', async () => {
    const own = await startTestApi({ REVEAL_REFUSALS_BURST: '5', REVEAL_REFUSALS_PER_MINUTE: '5' });
    const c = await newCredential();
    const prober = await newPrincipal(own, t.adminToken, ['gateway']);
    const before = (
      await own.sql(
        `SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1 AND action = 'CREDENTIAL_REVEAL_REFUSED'`,
        [t.tenantId],
      )
    )[0].n;
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 40; i++) {
      const res = await fetch(`${own.url}/v1/credentials/${i % 2 ? c.name : `missing-${i}`}`, {
        headers: { authorization: `Bearer ${prober.token}` },
      });
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get('retry-after');
      await res.arrayBuffer();
    }
    expect(statuses.slice(0, 5)).toEqual(Array(5).fill(403));
    expect(statuses.slice(5)).toEqual(Array(35).fill(429));
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    const refused = async () =>
      own.sql(
        `SELECT target_type, data FROM audit_events WHERE tenant_id = $1 AND action = 'CREDENTIAL_REVEAL_REFUSED' AND actor_id = $2 ORDER BY seq`,
        [t.tenantId, prober.ownerId],
      );
    // The first refusal was written before it was answered; the repeats wait for their minute (or shutdown).
    expect(await refused()).toEqual([
      {
        target_type: 'TOKEN',
        data: expect.objectContaining({ name: 'missing-0', reason: 'NO_SUCH_CREDENTIAL', door: 'rest' }),
      },
    ]);
    await own.close();
    const events = await api.sql(
      `SELECT target_type, data FROM audit_events WHERE tenant_id = $1 AND action = 'CREDENTIAL_REVEAL_REFUSED' AND actor_id = $2 ORDER BY seq`,
      [t.tenantId, prober.ownerId],
    );
    expect(events).toHaveLength(2);
    expect(events[1].data).toMatchObject({
      repeats: 39,
      reasons: { NOT_GRANTED: 20, NO_SUCH_CREDENTIAL: 19 },
      doors: ['rest'],
    });
    expect(events[1].data.names).toContain(c.name);
    const after = (
      await api.sql(
        `SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1 AND action = 'CREDENTIAL_REVEAL_REFUSED'`,
        [t.tenantId],
      )
    )[0].n;
    expect(after - before).toBe(2);
  });

  it('a missing name and one not granted get the same answer and the same audit path', async () => {
    const c = await newCredential();
    const a = await newPrincipal(api, t.adminToken, ['gateway']);
    const b = await newPrincipal(api, t.adminToken, ['gateway']);
    const notGranted = await get(c.name, a.token);
    const missing = await get('no-such-credential-here', b.token);
    expect([notGranted.status, missing.status]).toEqual([403, 403]);
    expect((await jsonOf(notGranted)).error.message).toBe(
      `no grant to read credential ${c.name} (or no such credential in this tenant)`,
    );
    expect((await jsonOf(missing)).error.message).toBe(
      'no grant to read credential no-such-credential-here (or no such credential in this tenant)',
    );
    const first = async (ownerId: string) =>
      (
        await api.sql(
          `SELECT data->>'reason' AS reason FROM audit_events WHERE tenant_id = $1 AND action = 'CREDENTIAL_REVEAL_REFUSED' AND actor_id = $2`,
          [t.tenantId, ownerId],
        )
      ).map((r) => r.reason);
    expect(await first(a.ownerId)).toEqual(['NOT_GRANTED']);
    expect(await first(b.ownerId)).toEqual(['NO_SUCH_CREDENTIAL']);
  });

  it('a token over its own rate limit gets 429 with Retry-After at the credential door and over GraphQL, not 401', async () => {
    const c = await newCredential();
    const limited = (await issue(api, t.adminToken, backend.ownerId, [], { rateLimit: { requests: 1, per: 'PT1M' } }))
      .secret;
    expect((await get(c.name, limited)).status).toBe(200);
    const res = await get(c.name, limited);
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const r = await fetch(`${api.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${limited}` },
      body: JSON.stringify({ query: '{ viewer { id } }' }),
    });
    expect(r.status).toBe(429);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await r.json()) as any).errors?.[0]?.extensions).toMatchObject({
      code: 'RATE_LIMITED',
      retryAfter: expect.any(Number),
    });
    // A field refused for the same reason (refused reads past their budget) says it in the header too.
    const prober = await newPrincipal(api, t.adminToken, ['gateway']);
    let last: Response | null = null;
    for (let i = 0; i < 12; i++) {
      last = await fetch(`${api.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${prober.token}` },
        body: JSON.stringify({ query: `mutation { revealCredential(name: "${c.name}") { value } }` }),
      });
    }
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

describe('the credential doors, odd requests', () => {
  it('answers 400, not 503, to a path that is not percent-encoded UTF-8', async () => {
    const res = await fetch(`${api.url}/v1/credentials/%C0%AF`, {
      headers: { authorization: `Bearer ${backend.token}` },
    });
    expect(res.status).toBe(400);
    expect((await jsonOf(res)).error.code).toBe('BAD_USER_INPUT');
  });

  it('records the client address of a reveal made over WebSocket', async () => {
    const c = await newCredential('crm-key-ws');
    const ws = wsClient(api.url, backend.token);
    try {
      const sub = ws.subscribe(`mutation($n: String!) { revealCredential(name: $n) { version } }`, { n: c.name });
      await sub.until((r) => r.length === 1);
    } finally {
      await ws.dispose();
    }
    const [revealed] = await events('CREDENTIAL_REVEALED', c.id);
    expect(revealed.data).toMatchObject({ door: 'graphql', clientIp: '127.0.0.1' });
  });
});
