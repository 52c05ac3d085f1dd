// bench:credentials — reveals of managed credentials in one tenant, each one audited, against
// the same reveals with one transaction per audit event, and 304 revalidations against a bare
// node:http server answering the same ETags, all in the same run on the same machine. Also the
// tokens one tenant issues per second, whose appends stay in their own transactions.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import {
  benchEnv,
  cleanUp,
  fmt,
  graphql,
  machine,
  pg,
  startBare,
  startLatchkey,
  type Started,
  writeResult,
} from './bench/harness';

const CREDENTIALS = Number(process.env.BENCH_CREDENTIALS ?? 1_000);
const CONNECTIONS = 64;
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);

/** Answers GET /v1/credentials/NAME as Latchkey does, from memory: a value and an ETag, or 304. */
const BARE = `
const http = require('node:http');
http.createServer((req, res) => {
  const name = req.url.split('/').pop();
  const etag = '"' + name + '"';
  if (req.headers['if-none-match'] === etag) { res.writeHead(304, { etag, 'cache-control': 'no-store' }); return res.end(); }
  const out = JSON.stringify({ name, version: 1, value: 'value-of-' + name, expiresAt: null, graceEndsAt: null, nextRotationAt: null });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out), etag, 'cache-control': 'no-store' });
  res.end(out);
}).listen(0, '127.0.0.1', function () { console.log('LISTEN ' + this.address().port); });`;

interface Load {
  rps: number;
  p50: number;
  p99: number;
  answers: number;
  non2xx: number;
}

async function load(
  url: string,
  token: string,
  names: string[],
  etags: Map<string, string> | null,
  seconds = DURATION,
): Promise<Load> {
  let i = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) =>
    autocannon(
      {
        url,
        connections: CONNECTIONS,
        duration: seconds,
        requests: [
          {
            setupRequest: (req) => {
              const name = names[i++ % names.length]!;
              const headers: Record<string, string> = { authorization: `Bearer ${token}` };
              if (etags) headers['if-none-match'] = etags.get(name)!;
              return { ...req, method: 'GET', path: `/v1/credentials/${name}`, headers };
            },
          },
        ],
      },
      (err, r) => (err ? reject(err) : resolve(r)),
    ),
  );
  const ok = etags ? (result['3xx'] ?? 0) : result['2xx'];
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    answers: ok,
    non2xx: etags ? result.requests.total - ok : result.non2xx,
  };
}

async function main(): Promise<void> {
  const bench = benchEnv('credentials');
  console.log(
    `bench:credentials on ${machine()}: ${CREDENTIALS.toLocaleString('en-US')} credentials in one tenant, ${CONNECTIONS} connections, ${DURATION} s per measurement`,
  );
  let latchkey: Started = await startLatchkey(bench.env);
  const bare = await startBare(BARE);
  const db = await pg(bench.databaseUrl);
  try {
    const admin = readFileSync(bench.env.BOOTSTRAP_TOKEN_FILE!, 'utf8').trim();
    const q = (query: string, variables?: Record<string, unknown>) => graphql(latchkey.url!, admin, query, variables);
    const { tenant } = await q(`{ tenant { id } }`);
    const { createOwner } = await q(
      `mutation { createOwner(input: { kind: SERVICE, name: "homepage-dashboard-backend" }) { id } }`,
    );
    const consumer = (
      await q(`mutation($o: ID!) { issueToken(input: { ownerId: $o, name: "backend", scopes: [] }) { secret } }`, {
        o: createOwner.id,
      })
    ).issueToken.secret;
    const names = Array.from({ length: CREDENTIALS }, (_, n) => `vendor-token-${String(n).padStart(4, '0')}`);
    const started = Date.now();
    for (let n = 0; n < names.length; n += 16) {
      await Promise.all(
        names.slice(n, n + 16).map(async (name) => {
          await q(
            `mutation($n: String!, $v: String!) { createCredential(input: { name: $n, value: $v, service: "bench" }) { id } }`,
            { n: name, v: `value-of-${name}` },
          );
          await q(`mutation($n: String!, $o: ID!) { grantCredential(name: $n, ownerId: $o) { ownerId } }`, {
            n: name,
            o: createOwner.id,
          });
        }),
      );
    }
    console.log(`created and granted ${CREDENTIALS} credentials in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const reveals = async () =>
      Number(
        (
          await db.query(
            `SELECT count(*) AS n FROM audit_events WHERE tenant_id = $1 AND action = 'CREDENTIAL_REVEALED'`,
            [tenant.id],
          )
        ).rows[0].n,
      );

    // Reveals, group-committed (the default).
    await load(latchkey.url!, consumer, names, null, 3); // warm-up
    let before = await reveals();
    console.log(`measuring reveals, group commit, for ${DURATION} s`);
    const grouped = await load(latchkey.url!, consumer, names, null);
    const groupedAudited = (await reveals()) - before;

    // Revalidations: each credential's ETag, then If-None-Match for all of them.
    const etags = new Map<string, string>();
    for (const name of names)
      etags.set(
        name,
        (
          await fetch(`${latchkey.url}/v1/credentials/${name}`, { headers: { authorization: `Bearer ${consumer}` } })
        ).headers.get('etag')!,
      );
    await load(latchkey.url!, consumer, names, etags, 3);
    before = await reveals();
    console.log(`measuring 304 revalidations for ${DURATION} s`);
    const revalidated = await load(latchkey.url!, consumer, names, etags);
    const revalidationsAudited = (await reveals()) - before;
    const bareEtags = new Map(names.map((n) => [n, `"${n}"`]));
    await load(bare.url, consumer, names, bareEtags, 3);
    console.log(`measuring bare node:http revalidations for ${DURATION} s`);
    const bareRevalidated = await load(bare.url, consumer, names, bareEtags);

    // Issuance in one tenant (each token and its event in a transaction of its own).
    const issue = async (): Promise<number> => {
      const res = await new Promise<autocannon.Result>((resolve, reject) =>
        autocannon(
          {
            url: `${latchkey.url}/graphql`,
            connections: CONNECTIONS,
            duration: DURATION,
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
            body: JSON.stringify({
              query: `mutation($o: ID!) { issueToken(input: { ownerId: $o, name: "bench-issued", scopes: [] }) { token { id } } }`,
              variables: { o: createOwner.id },
            }),
          },
          (err, r) => (err ? reject(err) : resolve(r)),
        ),
      );
      return res['2xx'] / DURATION;
    };
    console.log(`measuring token issuance for ${DURATION} s`);
    const issued = await issue();

    // Refused reads: a name that does not exist against one not granted, alternated, sequential, a
    // fresh token every 5 reads (within the refusal burst), so each token's first refusal (the one
    // written at once) is in both samples alike. Their costs must not tell the two apart.
    const { createOwner: prober } = await q(
      `mutation { createOwner(input: { kind: SERVICE, name: "prober" }) { id } }`,
    );
    const probes: string[] = [];
    for (let n = 0; n < 100; n++)
      probes.push(
        (
          await q(`mutation($o: ID!) { issueToken(input: { ownerId: $o, name: "probe", scopes: [] }) { secret } }`, {
            o: prober.id,
          })
        ).issueToken.secret,
      );
    const refusedMs = { missing: [] as number[], forbidden: [] as number[] };
    for (let n = 0; n < 1_000; n++) {
      // Tokens take turns at which kind their first (written) refusal is.
      const missing = (n + Math.floor(n / 10)) % 2 === 0;
      const t0 = performance.now();
      const res = await fetch(`${latchkey.url}/v1/credentials/${missing ? `no-such-${n}` : names[n % names.length]}`, {
        headers: { authorization: `Bearer ${probes[Math.floor(n / 10)]}` },
      });
      await res.arrayBuffer();
      if (res.status !== 403) throw new Error(`a refused read answered ${res.status}`);
      (missing ? refusedMs.missing : refusedMs.forbidden).push(performance.now() - t0);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const refused = { missingP50: median(refusedMs.missing), forbiddenP50: median(refusedMs.forbidden) };

    // The same reveals with one transaction per event: the baseline of the group commit.
    await latchkey.stop();
    latchkey = await startLatchkey({ ...bench.env, AUDIT_GROUP_COMMIT_MAX: '1' });
    await load(latchkey.url!, consumer, names, null, 3);
    before = await reveals();
    console.log(`measuring reveals, one transaction per event, for ${DURATION} s`);
    const single = await load(latchkey.url!, consumer, names, null);
    const singleAudited = (await reveals()) - before;
    const chain = (
      await graphql(
        latchkey.url!,
        admin,
        `
          {
            verifyAuditChain {
              valid
              checked
              problem
            }
          }
        `,
      )
    ).verifyAuditChain;

    console.log('\n| measurement | req/s | p50 ms | p99 ms | answers | audited reveals |');
    console.log('|---|---:|---:|---:|---:|---:|');
    const line = (name: string, l: Load, audited: number | string) =>
      console.log(
        `| ${name} | ${fmt(l.rps, 0)} | ${l.p50} | ${l.p99} | ${l.answers.toLocaleString('en-US')} | ${typeof audited === 'number' ? audited.toLocaleString('en-US') : audited} |`,
      );
    line('reveals, group commit', grouped, groupedAudited);
    line('reveals, one transaction per event', single, singleAudited);
    line('304 revalidations', revalidated, revalidationsAudited);
    line('bare node:http 304s', bareRevalidated, '-');
    console.log(
      `\nreveals: group commit ${fmt(grouped.rps / single.rps, 2)}× one transaction per event; revalidations ${fmt(revalidated.rps / bareRevalidated.rps, 2)} of bare`,
    );
    console.log(`issued tokens in one tenant: ${fmt(issued, 0)}/s`);
    console.log(
      `refused reads, p50: missing name ${fmt(refused.missingP50, 2)} ms, not granted ${fmt(refused.forbiddenP50, 2)} ms (ratio ${fmt(refused.forbiddenP50 / refused.missingP50, 2)}; target: about 1)`,
    );
    console.log(
      `audit chain after the run: ${chain.valid ? 'valid' : `BROKEN (${chain.problem})`}, ${chain.checked.toLocaleString('en-US')} events checked`,
    );
    console.log(
      `targets: reveals >= 1,000/s (${fmt(grouped.rps, 0)}), every reveal audited (${groupedAudited >= grouped.answers && groupedAudited <= grouped.answers + CONNECTIONS ? 'yes' : 'NO'}: ${groupedAudited.toLocaleString('en-US')} events for ${grouped.answers.toLocaleString('en-US')} answers counted, at most ${CONNECTIONS} more in flight when the load stopped), p99 <= 50 ms (${grouped.p99}), revalidations >= 0.5 of bare (${fmt(revalidated.rps / bareRevalidated.rps, 2)}), none audited (${revalidationsAudited})`,
    );
    if (grouped.non2xx + single.non2xx + revalidated.non2xx > 0)
      console.warn(`unexpected answers: ${grouped.non2xx} / ${single.non2xx} / ${revalidated.non2xx}`);
    writeResult('credentials', {
      credentials: CREDENTIALS,
      connections: CONNECTIONS,
      seconds: DURATION,
      revealsGrouped: { ...grouped, audited: groupedAudited },
      revealsOneTransactionEach: { ...single, audited: singleAudited },
      revalidations: { ...revalidated, audited: revalidationsAudited },
      bareRevalidations: bareRevalidated,
      issuedTokensPerSecond: issued,
      refusedReads: refused,
      chainValid: chain.valid,
    });
  } finally {
    await db.end();
    bare.stop();
    await latchkey.stop();
    await cleanUp(bench);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
