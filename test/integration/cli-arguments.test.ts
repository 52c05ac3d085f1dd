// What the command line takes as people type it, through the real binary: tokens by name for
// every command that acts on one, and arguments it cannot use refused with a message that says
// what it takes (exit 3), before anything is asked of the server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api';
import { cliRunner } from '../helpers/cli';
import { newTenant, type TenantFixture } from '../helpers/fixtures';
import { AuditEventCountDocument, CreateOwnerDocument } from '../generated/graphql';

let api: TestApi;
let t: TenantFixture;
const latchkey = cliRunner(
  () => api.url,
  () => t.adminToken,
);
const json = async (args: string[]) => {
  const r = await latchkey([...args, '--output', 'json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};
const auditCount = async () => (await api.ok(t.adminToken, AuditEventCountDocument)).auditEvents.totalCount;
const DAY = 86_400_000;

beforeAll(async () => {
  api = await startTestApi();
  t = await newTenant(api);
  await api.ok(t.adminToken, CreateOwnerDocument, { input: { kind: 'SERVICE', name: 'args-svc' } });
  expect((await latchkey(['tokens', 'issue', '--owner', 'args-svc', '--name', 'kept'])).code).toBe(0);
});
afterAll(() => api?.close());

describe('a token by name', () => {
  it('rotate, suspend, resume, restrict and revoke take a name as show does', async () => {
    const { token } = await json(['tokens', 'issue', '--owner', 'args-svc', '--name', 'by-name']);
    expect((await json(['tokens', 'rotate', 'by-name', '--grace', '5m'])).token).toMatchObject({
      id: token.id,
      generation: 2,
    });
    expect(await json(['tokens', 'suspend', 'by-name', '--reason', 'checking'])).toMatchObject({
      id: token.id,
      status: 'SUSPENDED',
    });
    expect(await json(['tokens', 'resume', 'by-name'])).toMatchObject({ id: token.id, status: 'ACTIVE' });
    expect(await json(['tokens', 'restrict', 'by-name', '--rate-limit', '10/30s'])).toMatchObject({
      id: token.id,
      rateLimit: { requests: 10, per: 'PT30S' },
    });
    expect((await json(['tokens', 'revoke', 'by-name', '--yes'])).revoked).toEqual([
      expect.objectContaining({ id: token.id, status: 'REVOKED' }),
    ]);
    const gone = await latchkey(['tokens', 'rotate', 'by-name']);
    expect(gone.code).toBe(6);
    expect(gone.stderr).toContain('no live token named "by-name"');
  });
});

describe('arguments it cannot use are refused, saying what it takes, and change nothing', () => {
  it.each([
    [
      'a rate limit in words',
      ['tokens', 'restrict', 'kept', '--rate-limit', '100/minute'],
      '"100/minute" is not a rate limit: write requests/window, such as 100/1m',
    ],
    ['a limit that is no number', ['tokens', 'list', '--limit', 'abc'], '"abc" is not a whole number of at least 1'],
    ['a limit of zero', ['credentials', 'history', 'x', '--limit', '0'], '"0" is not a whole number of at least 1'],
    [
      'a date that does not exist',
      ['tokens', 'issue', '--owner', 'args-svc', '--name', 'x', '--expires-at', '2027-02-30'],
      '"2027-02-30" is not a date: write 2027-03-31 (midnight UTC)',
    ],
    [
      'a signal that does not exist',
      ['run', '--env', 'A=b', '--signal', 'SIGNOPE', '--', 'true'],
      '"SIGNOPE" is not a signal',
    ],
  ])('%s', async (_what, args, message) => {
    const before = await auditCount();
    const r = await latchkey(args);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(message);
    expect(await auditCount()).toBe(before);
  });
});

describe('dates as people write them', () => {
  it('--expires-at takes a date (midnight UTC) or a date and time with its offset', async () => {
    const date = new Date(Date.now() + 30 * DAY).toISOString().slice(0, 10);
    const { token } = await json(['tokens', 'issue', '--owner', 'args-svc', '--name', 'dated', '--expires-at', date]);
    expect(token.expiresAt).toBe(`${date}T00:00:00.000Z`);
    const { token: timed } = await json([
      'tokens',
      'issue',
      '--owner',
      'args-svc',
      '--name',
      'timed',
      '--expires-at',
      `${date}T18:00:00+02:00`,
    ]);
    expect(timed.expiresAt).toBe(`${date}T16:00:00.000Z`);
  });
});
