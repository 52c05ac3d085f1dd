// The walkthrough of the README, end to end over HTTP: scope, owner, issue, verify, rotate, revoke.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api';
import { createScopes, issue, newTenant, type TenantFixture } from '../helpers/fixtures';
import { CreateRotationPolicyDocument, IssueTokenDocument } from '../generated/graphql';

let api: TestApi;
let t: TenantFixture;
let ownerId: string;

const VERIFY = `query($s: String!, $r: [String!]) { verifyToken(secret: $s, requiredScopes: $r) { valid failure tokenId ownerId tenantId scopes expiresAt rotationPending } }`;

beforeAll(async () => {
  api = await startTestApi();
  t = await newTenant(api);
  await createScopes(api, t.adminToken, ['crm:sales.summary:read', 'messaging:messages:write']);
  const { createOwner } = await api.ok(
    t.adminToken,
    `mutation { createOwner(input: { kind: SERVICE, name: "homepage", allowedScopes: ["crm:sales.summary:read"] }) { id allowedScopes { name } } }`,
  );
  ownerId = createOwner.id;
});
afterAll(() => api.close());

describe('token core', () => {
  it('issues a token once in plaintext and stores only a keyed hash and a hint', async () => {
    const { issueToken } = await api.ok(
      t.adminToken,
      `mutation($o: ID!) { issueToken(input: { ownerId: $o, name: "sales widget", scopes: ["crm:sales.summary:read"], labels: { widget: "sales" } }) {
         secret token { id status generation labels usageCount scopes { name access } owner { id } secrets { hint state } } } }`,
      { o: ownerId },
    );
    expect(issueToken.secret).toMatch(/^lk_[0-9A-Za-z]{49}$/);
    expect(issueToken.token).toMatchObject({
      status: 'ACTIVE',
      generation: 1,
      labels: { widget: 'sales' },
      usageCount: 0,
      owner: { id: ownerId },
    });
    expect(issueToken.token.scopes).toEqual([{ name: 'crm:sales.summary:read', access: 'READ' }]);
    expect(issueToken.token.secrets).toEqual([{ hint: `lk_…${issueToken.secret.slice(-4)}`, state: 'CURRENT' }]);

    const stored = await api.sql(`SELECT hash, hint FROM token_secrets WHERE token_id = $1`, [issueToken.token.id]);
    expect(stored).toHaveLength(1);
    expect(stored[0].hash).toMatch(/^[0-9a-f]{64}$/);
    const everything =
      JSON.stringify(await api.sql(`SELECT * FROM token_secrets`)) +
      JSON.stringify(await api.sql(`SELECT * FROM audit_events`));
    expect(everything).not.toContain(issueToken.secret);
    expect(everything).not.toContain(issueToken.secret.slice(3, 40));

    const again = await api.ok(t.adminToken, `query($id: ID!) { token(id: $id) { id secrets { hint } } }`, {
      id: issueToken.token.id,
    });
    expect(JSON.stringify(again)).not.toContain(issueToken.secret);
  });

  it('refuses scopes outside the owner ceiling and unknown scopes, writing nothing', async () => {
    const before = await api.sql(`SELECT count(*)::int AS n FROM tokens`);
    const outside = await api.gql(t.adminToken, IssueTokenDocument, {
      input: { ownerId, name: 'x', scopes: ['messaging:messages:write'] },
    });
    expect(outside.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(outside.errors?.[0]?.message).toContain('messaging:messages:write');
    const unknown = await api.gql(t.adminToken, IssueTokenDocument, {
      input: { ownerId, name: 'x', scopes: ['crm:nothing:read'] },
    });
    expect(unknown.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await api.sql(`SELECT count(*)::int AS n FROM tokens`)).toEqual(before);
  });

  it('verifies, rotates with grace, then revokes', async () => {
    const tok = await issue(api, t.adminToken, ownerId, ['crm:sales.summary:read']);
    const v1 = (await api.ok(t.adminToken, VERIFY, { s: tok.secret, r: ['crm:sales.summary:read'] })).verifyToken;
    expect(v1).toMatchObject({
      valid: true,
      failure: null,
      tokenId: tok.id,
      ownerId,
      tenantId: t.tenantId,
      scopes: ['crm:sales.summary:read'],
      rotationPending: false,
    });

    const { rotateToken } = await api.ok(
      t.adminToken,
      `mutation($id: ID!) { rotateToken(id: $id, gracePeriod: "PT1H") { secret token { generation secrets { state graceEndsAt } } } }`,
      { id: tok.id },
    );
    expect(rotateToken.token.generation).toBe(2);
    expect(rotateToken.token.secrets.map((s: { state: string }) => s.state)).toEqual(['CURRENT', 'PREVIOUS']);
    const graceEnds = Date.parse(rotateToken.token.secrets[1].graceEndsAt);
    expect(Math.abs(graceEnds - Date.now() - 3_600_000)).toBeLessThan(10_000);

    const oldV = (await api.ok(t.adminToken, VERIFY, { s: tok.secret })).verifyToken;
    expect(oldV).toMatchObject({ valid: true, rotationPending: true });
    const newV = (await api.ok(t.adminToken, VERIFY, { s: rotateToken.secret })).verifyToken;
    expect(newV).toMatchObject({ valid: true, rotationPending: false });

    const { revokeToken } = await api.ok(
      t.adminToken,
      `mutation($id: ID!) { revokeToken(id: $id, reason: "leaked in a screenshot") { status revokedAt revokedReason secrets { state } } }`,
      { id: tok.id },
    );
    expect(revokeToken).toMatchObject({ status: 'REVOKED', revokedReason: 'leaked in a screenshot' });
    expect(revokeToken.secrets.map((s: { state: string }) => s.state)).toEqual(['REVOKED', 'REVOKED']);
    for (const s of [tok.secret, rotateToken.secret]) {
      expect((await api.ok(t.adminToken, VERIFY, { s })).verifyToken).toMatchObject({
        valid: false,
        failure: 'REVOKED',
        tokenId: tok.id,
      });
    }
    const again = await api.gql(
      t.adminToken,
      `mutation($id: ID!) { revokeToken(id: $id, reason: "again") { status } }`,
      { id: tok.id },
    );
    expect(again.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  });

  it('rotation with PT0S revokes the old secret at once; a second rotation retires the older PREVIOUS', async () => {
    const tok = await issue(api, t.adminToken, ownerId, []);
    const rot = `mutation($id: ID!, $g: Duration) { rotateToken(id: $id, gracePeriod: $g) { secret token { generation secrets { state } } } }`;
    const r1 = (await api.ok(t.adminToken, rot, { id: tok.id, g: 'PT0S' })).rotateToken;
    expect(r1.token.secrets.map((s: { state: string }) => s.state)).toEqual(['CURRENT', 'REVOKED']);
    expect((await api.ok(t.adminToken, VERIFY, { s: tok.secret })).verifyToken.failure).toBe('REVOKED');
    const r2 = (await api.ok(t.adminToken, rot, { id: tok.id, g: 'PT1H' })).rotateToken;
    const r3 = (await api.ok(t.adminToken, rot, { id: tok.id, g: 'PT1H' })).rotateToken;
    expect(r3.token.generation).toBe(4);
    expect(r3.token.secrets.map((s: { state: string }) => s.state)).toEqual([
      'CURRENT',
      'PREVIOUS',
      'RETIRED',
      'REVOKED',
    ]);
    expect((await api.ok(t.adminToken, VERIFY, { s: r1.secret })).verifyToken.failure).toBe('EXPIRED');
    expect((await api.ok(t.adminToken, VERIFY, { s: r2.secret })).verifyToken).toMatchObject({
      valid: true,
      rotationPending: true,
    });
  });

  it('brings an expiry forward, never back, and schedules the token from it', async () => {
    const tok = await issue(api, t.adminToken, ownerId, [], {
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    const UPDATE = `mutation($id: ID!, $e: DateTime) { updateToken(id: $id, input: { expiresAt: $e }) { expiresAt } }`;
    const row = async () =>
      (await api.sql(`SELECT expires_at, next_notify_at, version FROM tokens WHERE id = $1`, [tok.id]))[0];
    const before = await row();
    for (const e of [new Date(Date.now() + 2 * 86_400_000), new Date(Date.now() - 1_000)]) {
      const r = await api.gql(t.adminToken, UPDATE, { id: tok.id, e: e.toISOString() });
      expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    const later = await api.gql(t.adminToken, UPDATE, {
      id: tok.id,
      e: new Date(Date.now() + 2 * 86_400_000).toISOString(),
    });
    expect(later.errors?.[0]?.message).toContain(`would make the token work past ${before.expires_at.toISOString()}`);
    expect(await row()).toEqual(before);
    const sooner = new Date(Date.now() + 3_600_000);
    const { updateToken } = await api.ok(t.adminToken, UPDATE, { id: tok.id, e: sooner.toISOString() });
    expect(Date.parse(updateToken.expiresAt)).toBe(sooner.getTime());
    expect((await row()).expires_at.getTime()).toBe(sooner.getTime());
    const [event] = await api.sql(`SELECT data FROM audit_events WHERE action = 'TOKEN_UPDATED' AND target_id = $1`, [
      tok.id,
    ]);
    expect(event.data.after).toEqual({ requestedExpiresAt: sooner.toISOString(), expiresAt: sooner.toISOString() });
  });

  it("changes a requested expiry the policy's lifetime cuts short without moving the expiry", async () => {
    const { createRotationPolicy } = await api.ok(t.adminToken, CreateRotationPolicyDocument, {
      input: { name: 'one-day-life', gracePeriod: 'PT1M', expireAfter: 'P1D' },
    });
    const tok = await issue(api, t.adminToken, ownerId, [], {
      expiresAt: new Date(Date.now() + 10 * 86_400_000).toISOString(),
      rotationPolicyId: createRotationPolicy.id,
    });
    const UPDATE = `mutation($id: ID!, $e: DateTime) { updateToken(id: $id, input: { expiresAt: $e }) { expiresAt requestedExpiresAt } }`;
    const read = `query($id: ID!) { token(id: $id) { expiresAt requestedExpiresAt } }`;
    const before = (await api.ok(t.adminToken, read, { id: tok.id })).token;
    expect(Date.parse(before.requestedExpiresAt) - Date.parse(before.expiresAt)).toBeGreaterThan(8 * 86_400_000);
    // Later than asked, still past the policy's day: allowed, nothing stops working later.
    const later = new Date(Date.now() + 20 * 86_400_000).toISOString();
    const { updateToken } = await api.ok(t.adminToken, UPDATE, { id: tok.id, e: later });
    expect(updateToken).toEqual({ expiresAt: before.expiresAt, requestedExpiresAt: later });
  });

  it('suspends and resumes', async () => {
    const tok = await issue(api, t.adminToken, ownerId, []);
    await api.ok(t.adminToken, `mutation($id: ID!) { suspendToken(id: $id, reason: "investigating") { status } }`, {
      id: tok.id,
    });
    expect((await api.ok(t.adminToken, VERIFY, { s: tok.secret })).verifyToken.failure).toBe('SUSPENDED');
    const { resumeToken } = await api.ok(t.adminToken, `mutation($id: ID!) { resumeToken(id: $id) { status } }`, {
      id: tok.id,
    });
    expect(resumeToken.status).toBe('ACTIVE');
    expect((await api.ok(t.adminToken, VERIFY, { s: tok.secret })).verifyToken.valid).toBe(true);
  });

  it('revokes in bulk by filter, in one transaction, and reports what it revoked', async () => {
    const a = await issue(api, t.adminToken, ownerId, [], { labels: { team: 'bulk' } });
    const b = await issue(api, t.adminToken, ownerId, [], { labels: { team: 'bulk' } });
    const other = await issue(api, t.adminToken, ownerId, [], { labels: { team: 'keep' } });
    const { revokeTokens } = await api.ok(
      t.adminToken,
      `mutation { revokeTokens(filter: { labels: { team: "bulk" } }, reason: "team offboarded") { count tokenIds } }`,
    );
    expect(revokeTokens.count).toBe(2);
    expect([...revokeTokens.tokenIds].sort()).toEqual([a.id, b.id].sort());
    expect((await api.ok(t.adminToken, VERIFY, { s: other.secret })).verifyToken.valid).toBe(true);
    const events = await api.sql(
      `SELECT target_id FROM audit_events WHERE action = 'TOKEN_REVOKED' AND data->>'reason' = 'team offboarded'`,
    );
    expect(events.map((e: { target_id: string }) => e.target_id).sort()).toEqual([a.id, b.id].sort());

    const empty = await api.gql(t.adminToken, `mutation { revokeTokens(filter: {}, reason: "all") { count } }`);
    expect(empty.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('updates name, description and labels, and attaches a policy that caps expiry', async () => {
    const tok = await issue(api, t.adminToken, ownerId, []);
    const { updateToken } = await api.ok(
      t.adminToken,
      `mutation($id: ID!) { updateToken(id: $id, input: { name: "renamed", description: "d", labels: { env: "prod" } }) { name description labels } }`,
      { id: tok.id },
    );
    expect(updateToken).toEqual({ name: 'renamed', description: 'd', labels: { env: 'prod' } });
    const { createRotationPolicy } = await api.ok(
      t.adminToken,
      `mutation { createRotationPolicy(input: { name: "monthly", rotateEvery: "P30D", gracePeriod: "P1D", expireAfter: "P90D", notifyBefore: ["P1D", "P7D"] }) { id rotateEvery gracePeriod expireAfter notifyBefore } }`,
    );
    expect(createRotationPolicy).toMatchObject({
      rotateEvery: 'P30D',
      gracePeriod: 'P1D',
      expireAfter: 'P90D',
      notifyBefore: ['P7D', 'P1D'],
    });
    const { setTokenPolicy } = await api.ok(
      t.adminToken,
      `mutation($id: ID!, $p: ID) { setTokenPolicy(id: $id, rotationPolicyId: $p) { expiresAt nextRotationAt rotationPolicy { name } } }`,
      { id: tok.id, p: createRotationPolicy.id },
    );
    expect(setTokenPolicy.rotationPolicy.name).toBe('monthly');
    expect(Date.parse(setTokenPolicy.expiresAt) - Date.now()).toBeGreaterThan(89 * 86_400_000);
    expect(Date.parse(setTokenPolicy.nextRotationAt) - Date.now()).toBeGreaterThan(29 * 86_400_000);
  });
});
