// The rotation preview answers for the page asked for: a year of daily rotations over two thousand
// tokens is not expanded to list the next action (it took 3 s and 207 MB, and killed a server).
import type { Client } from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { seedTokens } from '../../scripts/bench/seed';
import { connectPg } from '../../scripts/shared/infra';
import { startTestApi, type TestApi, testEnv } from '../helpers/api';
import { newTenant, type TenantFixture } from '../helpers/fixtures';
import { CreateOwnerDocument, CreateRotationPolicyDocument, IssueTokenDocument } from '../generated/graphql';

let api: TestApi;
let db: Client;
let t: TenantFixture;
let ids: string[];
let start: number;

beforeAll(async () => {
  api = await startTestApi();
  db = await connectPg(testEnv().DATABASE_URL!);
  t = await newTenant(api);
  const policyId = (
    await api.ok(t.adminToken, CreateRotationPolicyDocument, {
      input: { name: 'daily', rotateEvery: 'P1D', gracePeriod: 'PT1H' },
    })
  ).createRotationPolicy.id;
  const ownerId = (await api.ok(t.adminToken, CreateOwnerDocument, { input: { kind: 'SERVICE', name: 'fleet' } }))
    .createOwner.id;
  start = Date.now() + 600_000;
  ({ ids } = await seedTokens(db, {
    tenantId: t.tenantId,
    ownerId,
    scopeIds: [],
    count: 2_010,
    pepper: Buffer.from(testEnv().TOKEN_PEPPER!, 'utf8'),
    // Token i rotates daily from start + i seconds.
    columns: (i) => ({ next_rotation_at: new Date(start + i * 1_000), rotation_policy_id: policyId }),
  }));
});
afterAll(async () => {
  await db.end();
  await api.close();
});

const plan = (first: number) =>
  api.ok(
    t.adminToken,
    `query($first: Int) { rotationPlan(within: "P366D", first: $first) { truncated actions { at kind tokenId generation } } }`,
    { first },
  );

it('lists the first action of a year of daily rotations over 2,010 tokens without expanding the year', async () => {
  const before = process.memoryUsage().heapUsed;
  const started = Date.now();
  const { rotationPlan } = await plan(1);
  const took = Date.now() - started;
  expect(rotationPlan.truncated).toBe(true);
  expect(rotationPlan.actions).toEqual([
    { at: new Date(start).toISOString(), kind: 'ROTATE', tokenId: ids[0], generation: 2 },
  ]);
  // Generous bounds that a full expansion (1.5 million steps) does not meet.
  expect(took).toBeLessThan(2_000);
  expect(process.memoryUsage().heapUsed - before).toBeLessThan(100 * 1024 * 1024);
});

it('pages in time order across tokens, retirements included', async () => {
  const { rotationPlan } = await plan(1_000);
  const actions = rotationPlan.actions as Array<{ at: string; kind: string; tokenId: string; generation: number }>;
  expect(actions).toHaveLength(1_000);
  expect(rotationPlan.truncated).toBe(true);
  const times = actions.map((a) => Date.parse(a.at));
  expect(times).toEqual([...times].sort((a, b) => a - b));
  // The first thousand: token i rotates at start + i s, and nothing else happens in those 17 minutes.
  expect(actions.slice(0, 3).map((a) => a.tokenId)).toEqual(ids.slice(0, 3));
  expect(actions.every((a) => a.kind === 'ROTATE' && a.generation === 2)).toBe(true);
});

it('eight dry runs of a policy change over those tokens at once leave the event loop free: /healthz keeps answering', async () => {
  const policyId = (await api.ok(t.adminToken, `{ rotationPolicies { id name } }`)).rotationPolicies.find(
    (x: { name: string }) => x.name === 'daily',
  ).id;
  const auditor = (
    await api.ok(t.adminToken, IssueTokenDocument, { input: { ownerId: t.adminId, name: 'dry runs', scopes: [] } })
  ).issueToken.secret;
  let running = true;
  const health: number[] = [];
  const probe = (async () => {
    while (running) {
      const t0 = performance.now();
      await (await fetch(`${api.url}/healthz`)).arrayBuffer();
      health.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const dryRun = `mutation($id: ID!) { updateRotationPolicy(id: $id, input: { name: "daily", rotateEvery: "PT12H", gracePeriod: "PT1H" }, dryRun: true) { planImpact { tokens affectedTokens addedCount } } }`;
  const runs = await Promise.all(Array.from({ length: 8 }, () => api.ok(auditor, dryRun, { id: policyId })));
  running = false;
  await probe;
  expect(
    runs.every(
      (r) =>
        r.updateRotationPolicy.planImpact.tokens === 2_010 &&
        r.updateRotationPolicy.planImpact.affectedTokens === 2_010,
    ),
  ).toBe(true);
  expect(health.length).toBeGreaterThan(5);
  // Held for seconds before; the target (p99 under 100 ms) is measured by the benchmark, this bound only catches a held loop.
  expect(Math.max(...health)).toBeLessThan(500);
});
