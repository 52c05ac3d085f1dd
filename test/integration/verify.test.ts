// verifyToken through the API: failures in the contract's order, expiry decided by the clock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../src/tokens/token-format';
import { startTestApi, type TestApi } from '../helpers/api';
import { createScopes, issue, newPrincipal, newTenant, type TenantFixture } from '../helpers/fixtures';
import { CreateOwnerDocument, RevokeTokenDocument, SuspendTokenDocument } from '../generated/graphql';

let api: TestApi;
let t: TenantFixture;
let gateway: string;
let ownerId: string;
const VERIFY = `query($s: String!, $r: [String!]) { verifyToken(secret: $s, requiredScopes: $r) { valid failure tokenId rotationPending scopes } }`;
const verify = async (s: string, r?: string[]) => (await api.ok(gateway, VERIFY, { s, r })).verifyToken;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  api = await startTestApi();
  t = await newTenant(api);
  await createScopes(api, t.adminToken, ['crm:deals:read', 'crm:deals:write']);
  gateway = (await newPrincipal(api, t.adminToken, ['gateway'])).token;
  ownerId = (
    await api.ok(t.adminToken, CreateOwnerDocument, {
      input: { kind: 'SERVICE', name: 'svc', allowedScopes: ['crm:deals:read', 'crm:deals:write'] },
    })
  ).createOwner.id;
});
afterAll(() => api.close());

describe('verifyToken', () => {
  it('MALFORMED is decided before any query', async () => {
    let queries = 0;
    const pg = (api.container.ds.driver as unknown as { master: { on(e: string, f: () => void): void } }).master;
    pg.on('acquire', () => queries++);
    const before = queries;
    const bad = generateToken().slice(0, -1) + 'x';
    const direct = await api.container.services.verifier.verify(bad, [], t.tenantId);
    expect(direct.failure).toBe('MALFORMED');
    expect(queries).toBe(before);
    // The counter does count: a well-formed secret goes to the store.
    await api.container.services.verifier.verify(generateToken(), [], t.tenantId);
    expect(queries).toBeGreaterThan(before);
    for (const s of ['', 'lk_', 'hello', bad, `${generateToken()}x`])
      expect((await verify(s)).failure).toBe('MALFORMED');
  });

  it('NOT_FOUND for a well-formed unknown secret', async () => {
    expect(await verify(generateToken())).toMatchObject({ valid: false, failure: 'NOT_FOUND', tokenId: null });
  });

  it('reports REVOKED before SUSPENDED before EXPIRED before INSUFFICIENT_SCOPE', async () => {
    const soon = () => new Date(Date.now() + 1_500).toISOString();
    const expiring = await issue(api, t.adminToken, ownerId, ['crm:deals:read'], { expiresAt: soon() });
    const suspended = await issue(api, t.adminToken, ownerId, ['crm:deals:read'], { expiresAt: soon() });
    expect(await verify(expiring.secret, ['crm:deals:write'])).toMatchObject({
      failure: 'INSUFFICIENT_SCOPE',
      tokenId: expiring.id,
    });
    await api.ok(t.adminToken, SuspendTokenDocument, { id: suspended.id, reason: 'x' });
    expect(await verify(suspended.secret, ['crm:deals:write'])).toMatchObject({ failure: 'SUSPENDED' });
    await sleep(1_600);
    expect(await verify(expiring.secret, ['crm:deals:write'])).toMatchObject({ failure: 'EXPIRED' });
    expect(await verify(suspended.secret, ['crm:deals:write'])).toMatchObject({ failure: 'SUSPENDED' });
    await api.ok(t.adminToken, RevokeTokenDocument, { id: suspended.id, reason: 'x' });
    expect(await verify(suspended.secret, ['crm:deals:write'])).toMatchObject({ failure: 'REVOKED' });
  });

  it('ends the grace of a PREVIOUS secret by the clock, to the second, with no job involved', async () => {
    const tok = await issue(api, t.adminToken, ownerId, ['crm:deals:read']);
    const { rotateToken } = await api.ok(
      t.adminToken,
      `mutation($id: ID!) { rotateToken(id: $id, gracePeriod: "PT2S") { secret token { secrets { state graceEndsAt } } } }`,
      { id: tok.id },
    );
    const graceEndsAt = Date.parse(rotateToken.token.secrets[1].graceEndsAt);
    expect(await verify(tok.secret, ['crm:deals:read'])).toMatchObject({
      valid: true,
      rotationPending: true,
      scopes: ['crm:deals:read'],
    });
    await sleep(Math.max(0, graceEndsAt - Date.now() - 300));
    expect((await verify(tok.secret)).valid).toBe(true);
    await sleep(Math.max(0, graceEndsAt - Date.now() + 50));
    expect(await verify(tok.secret)).toMatchObject({ valid: false, failure: 'EXPIRED' });
    // Nothing changed in the database: the clock decided.
    const [row] = await api.sql(`SELECT state FROM token_secrets WHERE token_id = $1 AND generation = 1`, [tok.id]);
    expect(row.state).toBe('PREVIOUS');
    expect(await verify(rotateToken.secret)).toMatchObject({ valid: true, rotationPending: false });
  });
});
