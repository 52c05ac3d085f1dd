// nginx from Debian's packages in front of a small upstream, two ways: forward-auth (auth_request
// to /v1/authz) and an RFC 7662 introspection gateway (auth_request to an njs handler that calls
// /oauth2/introspect). Latchkey decides every request, and the upstream never sees one it refused.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api';
import { createScopes, issue, newPrincipal, newTenant, type TenantFixture } from '../helpers/fixtures';
import { freePort } from '../../scripts/shared/infra';
import { CreateOwnerDocument, RevokeTokenDocument, RotateTokenDocument } from '../generated/graphql';

let api: TestApi;
let t: TenantFixture;
let ownerId: string;
let upstream: Server;
const seen: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
const running: ChildProcess[] = [];

const NGINX_DIR = resolve(__dirname, '..', 'nginx');
const GATEWAYS = [
  { name: 'forward-auth (auth_request to /v1/authz)', template: 'latchkey.conf.template' },
  { name: 'RFC 7662 introspection (njs)', template: 'introspection.conf.template' },
];
const bases = new Map<string, string>(); // template → the base URL of the nginx running it

/** Starts nginx with one of test/nginx's templates filled in; resolves to its base URL. */
async function startNginx(template: string, gatewayToken: string): Promise<string> {
  const prefix = mkdtempSync(join(tmpdir(), 'latchkey-nginx-'));
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(prefix, d));
  const port = await freePort();
  const conf = readFileSync(join(NGINX_DIR, template), 'utf8')
    .replaceAll('{{PREFIX}}', prefix)
    .replaceAll('{{PORT}}', String(port))
    .replaceAll('{{LATCHKEY}}', new URL(api.url).host)
    .replaceAll('{{UPSTREAM}}', `127.0.0.1:${(upstream.address() as AddressInfo).port}`)
    .replaceAll('{{INTROSPECT_JS}}', join(NGINX_DIR, 'introspect.js'))
    .replaceAll('{{GATEWAY_TOKEN}}', gatewayToken);
  writeFileSync(join(prefix, 'nginx.conf'), conf, { mode: 0o600 });
  const bin = execFileSync('sh', ['-c', 'command -v nginx || ls /usr/sbin/nginx']).toString().trim();
  running.push(spawn(bin, ['-p', prefix, '-c', join(prefix, 'nginx.conf')], { stdio: 'inherit' }));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (
      (await fetch(`${base}/nginx-health`).then(
        (r) => r.status,
        () => 0,
      )) === 200
    )
      return base;
    if (i > 100) throw new Error(`nginx did not start; see ${prefix}/error.log`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The response's one RFC 6750 challenge (a proxy can easily send two). */
function challenge(r: Response): string {
  const value = r.headers.get('www-authenticate') ?? '';
  expect(value.match(/Bearer /g)).toHaveLength(1);
  return value;
}

beforeAll(async () => {
  api = await startTestApi();
  t = await newTenant(api);
  await createScopes(api, t.adminToken, ['crm:sales.summary:read', 'analytics:events:read']);
  ownerId = (
    await api.ok(t.adminToken, CreateOwnerDocument, {
      input: { kind: 'SERVICE', name: 'widget', allowedScopes: ['crm:sales.summary:read', 'analytics:events:read'] },
    })
  ).createOwner.id;
  const gateway = await newPrincipal(api, t.adminToken, ['gateway']);

  upstream = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    res.end('upstream says hello');
  }).listen(0, '127.0.0.1');
  await new Promise((r) => upstream.once('listening', r));

  for (const { template } of GATEWAYS) bases.set(template, await startNginx(template, gateway.token));
});

afterAll(async () => {
  for (const p of running) p.kill('SIGQUIT');
  upstream?.close();
  await api?.close();
});

describe.each(GATEWAYS)('nginx in front of an upstream: $name', ({ template }) => {
  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${bases.get(template)}${path}`, { headers });

  it('lets a good token through, and the upstream sees the identity headers but not the token', async () => {
    const tok = await issue(api, t.adminToken, ownerId, ['crm:sales.summary:read']);
    const before = seen.length;
    const r = await get('/crm/summary?q=1', { authorization: `Bearer ${tok.secret}` });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('upstream says hello');
    expect(seen.length).toBe(before + 1);
    const h = seen.at(-1)!.headers;
    expect(h['x-latchkey-token-id']).toBe(tok.id);
    expect(h['x-latchkey-owner-id']).toBe(ownerId);
    expect(h['x-latchkey-tenant-id']).toBe(t.tenantId);
    expect(h['x-latchkey-scopes']).toBe('crm:sales.summary:read');
    expect(h.authorization).toBeUndefined();
    expect(JSON.stringify(h)).not.toContain(tok.secret);
    const viaApiKey = await get('/crm/summary', { 'x-api-key': tok.secret });
    expect(viaApiKey.status).toBe(200);
  });

  it('refuses missing, revoked, expired and under-scoped tokens; the upstream is never called', async () => {
    const before = seen.length;
    const missing = await get('/crm/summary');
    expect(missing.status).toBe(401);
    expect(challenge(missing)).toBe('Bearer realm="latchkey"');

    const revoked = await issue(api, t.adminToken, ownerId, ['crm:sales.summary:read']);
    expect((await get('/crm/summary', { authorization: `Bearer ${revoked.secret}` })).status).toBe(200);
    await api.ok(t.adminToken, RevokeTokenDocument, { id: revoked.id, reason: 'nginx test' });
    const afterRevoke = seen.length;
    const r1 = await get('/crm/summary', { authorization: `Bearer ${revoked.secret}` });
    expect(r1.status).toBe(401);
    expect(challenge(r1)).toMatch(/^Bearer realm="latchkey", error="invalid_token"/);

    const expired = await issue(api, t.adminToken, ownerId, ['crm:sales.summary:read'], {
      expiresAt: new Date(Date.now() + 1_000).toISOString(),
    });
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await get('/crm/summary', { authorization: `Bearer ${expired.secret}` })).status).toBe(401);

    const narrow = await issue(api, t.adminToken, ownerId, ['analytics:events:read']);
    const r2 = await get('/crm/summary', { authorization: `Bearer ${narrow.secret}` });
    expect(r2.status).toBe(403);
    expect(challenge(r2)).toMatch(
      /^Bearer realm="latchkey", error="insufficient_scope", scope="crm:sales.summary:read"$/,
    );

    expect((await get('/crm/summary', { authorization: 'Bearer lk_garbage' })).status).toBe(401);
    expect(seen.length).toBe(afterRevoke);
    expect(seen.length).toBe(before + 1); // only the one good request before the revocation
  });
});

describe.each(GATEWAYS)('nginx tells of a pending rotation: $name', ({ template }) => {
  it('a secret in its grace after a rotation goes through, and the client and the upstream both learn it should switch', async () => {
    const tok = await issue(api, t.adminToken, ownerId, ['crm:sales.summary:read']);
    const fresh = (await api.ok(t.adminToken, RotateTokenDocument, { id: tok.id, gracePeriod: 'PT1H' })).rotateToken
      .secret;
    const old = await fetch(`${bases.get(template)}/crm/summary`, {
      headers: { authorization: `Bearer ${tok.secret}` },
    });
    expect(old.status).toBe(200);
    expect(old.headers.get('x-latchkey-rotation-pending')).toBe('true');
    expect(seen.at(-1)!.headers['x-latchkey-rotation-pending']).toBe('true');
    const current = await fetch(`${bases.get(template)}/crm/summary`, {
      headers: { authorization: `Bearer ${fresh}` },
    });
    expect(current.status).toBe(200);
    expect(current.headers.get('x-latchkey-rotation-pending')).toBeNull();
    expect(seen.at(-1)!.headers['x-latchkey-rotation-pending']).toBeUndefined();
  });
});

describe('nginx forward-auth and rate limits', () => {
  it('answers a rate-limited token 429 with Retry-After, as the README says, and the upstream is not called', async () => {
    const tok = await issue(api, t.adminToken, ownerId, ['crm:sales.summary:read'], {
      rateLimit: { requests: 1, per: 'PT1M' },
    });
    const base = bases.get('latchkey.conf.template')!;
    expect((await fetch(`${base}/crm/summary`, { headers: { authorization: `Bearer ${tok.secret}` } })).status).toBe(
      200,
    );
    const before = seen.length;
    const limited = await fetch(`${base}/crm/summary`, { headers: { authorization: `Bearer ${tok.secret}` } });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(seen.length).toBe(before);
    // An under-scoped token is still a plain 403 with its challenge.
    const narrow = await issue(api, t.adminToken, ownerId, ['analytics:events:read']);
    const r = await fetch(`${base}/crm/summary`, { headers: { authorization: `Bearer ${narrow.secret}` } });
    expect(r.status).toBe(403);
    expect(r.headers.get('retry-after')).toBeNull();
    expect(challenge(r)).toMatch(/insufficient_scope/);
  });
});
