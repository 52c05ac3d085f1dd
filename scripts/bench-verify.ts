// npm run bench:verify — the gateway path against a bare node:http server, in the same run on the
// same machine. Seeds 100,000 tokens, then drives /v1/verify (random tokens), /v1/authz and
// GraphQL verifyToken with autocannon (64 connections, warm-up, then 10 s each), in three rounds
// that take every target in turn, and prints the median of each figure. Then, since autocannon's
// 64 connections always saturate the server, it measures the latency of /v1/verify and of the bare
// server at a steady load both can carry: half of what /v1/verify sustained. Each bare run waits
// until Latchkey has written the usage of the run before, so that the bare server runs alone.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import {
  benchEnv,
  cleanUp,
  fmt,
  graphql,
  machine,
  pg,
  sampleRss,
  startBare,
  startLatchkey,
  writeResult,
} from './bench/harness';
import { seedTokens } from './bench/seed';
import { median } from './bench/stats';
import { steadyProcess, type SteadyResult } from './bench/steady';
import { USAGE_FLUSH_MS_DEFAULT } from '../src/platform/config';

const TOKENS = Number(process.env.BENCH_TOKENS ?? 100_000);
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 64;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

interface Row {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  /** The server's own event-loop delay p99 during the run, when it is Latchkey. */
  loopP99?: number;
}

/** A target's figures over the rounds, with the median of its req/s over bare's in each round. */
type Summary = Row & { vsBare: number };

const BARE = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    let token = null;
    try { token = JSON.parse(body).token; } catch {}
    const out = JSON.stringify({ valid: typeof token === 'string', failure: null, tokenId: null, ownerId: null, tenantId: null, scopes: [], expiresAt: null, rotationPending: false });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
    res.end(out);
  });
});
server.listen(0, '127.0.0.1', () => console.log('LISTEN ' + server.address().port));`;

function run(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/** Latchkey's event-loop delay p99 since the last scrape (prom-client resets it on every scrape), in ms. */
async function loopDelayP99(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^latchkey_nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(text)?.[1] ?? NaN) * 1000;
}

async function measure(
  name: string,
  round: number,
  opts: Omit<autocannon.Options, 'duration' | 'connections'>,
  metricsUrl?: string,
): Promise<Row> {
  await run({ ...opts, connections: CONNECTIONS, duration: 3 });
  if (metricsUrl) await loopDelayP99(metricsUrl);
  console.log(`measuring ${name} (round ${round} of ${ROUNDS}) for ${DURATION} s`);
  const r = await run({ ...opts, connections: CONNECTIONS, duration: DURATION });
  if (r.non2xx > 0 || r.errors > 0) console.warn(`  ${name}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
  const loopP99 = metricsUrl ? await loopDelayP99(metricsUrl) : undefined;
  return { name, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, loopP99 };
}

async function main(): Promise<void> {
  const bench = benchEnv('verify');
  console.log(`bench:verify on ${machine()}`);
  const latchkey = await startLatchkey(bench.env);
  let bare: { url: string; stop: () => void } | undefined;
  try {
    const rss = sampleRss(latchkey.proc.pid!);
    const url = latchkey.url!;
    const admin = readFileSync(bench.env.BOOTSTRAP_TOKEN_FILE!, 'utf8').trim();

    await graphql(
      url,
      admin,
      `
        mutation {
          createScope(input: { name: "crm:sales.summary:read" }) {
            id
          }
        }
      `,
    );
    const { createOwner } = await graphql(
      url,
      admin,
      `
        mutation {
          createOwner(input: { kind: SERVICE, name: "bench", allowedScopes: ["crm:sales.summary:read"] }) {
            id
          }
        }
      `,
    );
    const { createOwner: gw } = await graphql(
      url,
      admin,
      `
        mutation {
          createOwner(input: { kind: SERVICE, name: "gateway" }) {
            id
          }
        }
      `,
    );
    const { roles } = await graphql(
      url,
      admin,
      `
        {
          roles {
            id
            name
          }
        }
      `,
    );
    await graphql(
      url,
      admin,
      `
        mutation ($o: ID!, $r: ID!) {
          assignRole(ownerId: $o, roleId: $r) {
            id
          }
        }
      `,
      {
        o: gw.id,
        r: roles.find((r: { name: string }) => r.name === 'gateway').id,
      },
    );
    const gateway = (
      await graphql(
        url,
        admin,
        `
          mutation ($o: ID!) {
            issueToken(input: { ownerId: $o, name: "gw", scopes: [] }) {
              secret
            }
          }
        `,
        { o: gw.id },
      )
    ).issueToken.secret;
    const { tenant, scopes } = await graphql(
      url,
      admin,
      `
        {
          tenant {
            id
          }
          scopes {
            id
          }
        }
      `,
    );

    const db = await pg(bench.databaseUrl);
    const started = Date.now();
    const { secrets } = await seedTokens(db, {
      tenantId: tenant.id,
      ownerId: createOwner.id,
      scopeIds: scopes.map((s: { id: string }) => s.id),
      count: TOKENS,
      pepper: Buffer.from(bench.env.TOKEN_PEPPER!, 'utf8'),
    });
    await db.end();
    console.log(`seeded ${TOKENS.toLocaleString()} tokens in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const random = () => secrets[Math.floor(Math.random() * secrets.length)]!;
    const verifyBody = () => JSON.stringify({ token: random(), requiredScopes: ['crm:sales.summary:read'] });
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${gateway}` };

    // Warm every token once, as a gateway's steady traffic would: each of these is a cold lookup
    // (Redis, then Postgres, filling both caches).
    let next = 0;
    const cold = await run({
      url,
      connections: CONNECTIONS,
      amount: secrets.length,
      requests: [
        {
          method: 'POST',
          path: '/v1/verify',
          headers,
          setupRequest: (req) => ({ ...req, body: JSON.stringify({ token: secrets[next++ % secrets.length] }) }),
        },
      ],
    });

    console.log(
      `cold lookups (every token once, from Postgres): ${fmt(cold.requests.average, 0)} req/s, p50 ${cold.latency.p50} ms, p99 ${cold.latency.p99} ms`,
    );
    const query = `query($s: String!) { verifyToken(secret: $s, requiredScopes: ["crm:sales.summary:read"]) { valid failure tokenId scopes } }`;
    bare = await startBare(BARE);
    const targets: Array<{
      name: string;
      opts: Omit<autocannon.Options, 'duration' | 'connections'>;
      latchkey: boolean;
    }> = [
      {
        name: 'bare node:http',
        latchkey: false,
        opts: {
          url: bare.url,
          requests: [{ method: 'POST', path: '/', headers, setupRequest: (req) => ({ ...req, body: verifyBody() }) }],
        },
      },
      {
        name: 'POST /v1/verify',
        latchkey: true,
        opts: {
          url,
          requests: [
            { method: 'POST', path: '/v1/verify', headers, setupRequest: (req) => ({ ...req, body: verifyBody() }) },
          ],
        },
      },
      {
        name: 'GET /v1/authz',
        latchkey: true,
        opts: {
          url,
          requests: [
            {
              method: 'GET',
              path: '/v1/authz',
              setupRequest: (req) => ({
                ...req,
                headers: {
                  'x-latchkey-gateway-token': gateway,
                  authorization: `Bearer ${random()}`,
                  'x-latchkey-scopes': 'crm:sales.summary:read',
                },
              }),
            },
          ],
        },
      },
      {
        name: 'GraphQL verifyToken',
        latchkey: true,
        opts: {
          url,
          requests: [
            {
              method: 'POST',
              path: '/graphql',
              headers,
              setupRequest: (req) => ({ ...req, body: JSON.stringify({ query, variables: { s: random() } }) }),
            },
          ],
        },
      },
    ];
    // Latchkey writes the usage of a run in its next flushes (the totals and the per-day counts
    // within a minute by default), seconds of Postgres work on the same two cores: the bare server is
    // measured once both are written, so that it runs alone. They are when the totals have not
    // changed for longer than a flush interval (so that every use is in them) and the per-day
    // counts add up to them.
    const usageDb = await pg(bench.databaseUrl);
    usageDb.on('error', () => undefined); // the clean-up drops the database under it after a failure
    const written = async () =>
      (
        await usageDb.query<{ total: string; days: string }>(
          `SELECT (SELECT coalesce(sum(usage_count), 0) FROM token_usage) AS total, (SELECT coalesce(sum(count), 0) FROM token_usage_daily) AS days`,
        )
      ).rows[0]!;
    const stableMs = Number(bench.env.USAGE_FLUSH_MS ?? USAGE_FLUSH_MS_DEFAULT) + 5_000;
    const latchkeyQuiet = async () => {
      const started = Date.now();
      let last = await written();
      let changed = Date.now();
      while (Date.now() - changed < stableMs || last.days !== last.total) {
        if (Date.now() - started > 300_000)
          throw new Error('Latchkey did not write the usage of the last run within 5 minutes');
        await new Promise((r) => setTimeout(r, 500));
        const now = await written();
        if (now.total !== last.total) changed = Date.now();
        last = now;
      }
      console.log(
        `waited ${((Date.now() - started) / 1000).toFixed(0)} s for Latchkey to write the usage of the run before, so that the bare server runs alone`,
      );
    };
    // Rounds that run every target in turn, so that the bare baseline and Latchkey see the same
    // spells of a noisy machine; each figure below is the median over the rounds, and each ratio
    // the median of the rounds' own ratios (a ratio of medians would pair runs of different spells).
    const rounds: Row[][] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const round: Row[] = [];
      for (const t of targets) {
        if (!t.latchkey) await latchkeyQuiet();
        round.push(await measure(t.name, r + 1, t.opts, t.latchkey ? url : undefined));
      }
      rounds.push(round);
    }
    const vsBare = (round: Row[], i: number) => round[i]!.rps / round[0]!.rps;
    const rows: Summary[] = targets.map((t, i) => {
      const of = (k: 'rps' | 'p50' | 'p99' | 'loopP99') => median(rounds.map((round) => round[i]![k] ?? NaN));
      return {
        name: t.name,
        rps: of('rps'),
        p50: of('p50'),
        p99: of('p99'),
        loopP99: t.latchkey ? of('loopP99') : undefined,
        vsBare: median(rounds.map((round) => vsBare(round, i))),
      };
    });
    console.log(
      `\n/v1/verify vs bare, round by round: ${rounds.map((round) => `${fmt(vsBare(round, 1), 2)} (p99 ${round[1]!.p99} vs ${round[0]!.p99} ms)`).join(', ')}`,
    );
    rss.stop();
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const lookups = metrics
      .split('\n')
      .filter((l) =>
        /^latchkey_(verify_lookups_total\{|verify_cache_|nodejs_heap_size_used_bytes|nodejs_eventloop_lag_(p99|max)_seconds|nodejs_gc_duration_seconds_(sum|count))/.test(
          l,
        ),
      )
      .map((l) => l.replace('latchkey_', ''));
    console.log(`\nserver after the run: ${lookups.join(', ')}`);

    console.log('\n| target | req/s | p50 ms | p99 ms | vs bare | server event-loop delay p99 ms |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      console.log(
        `| ${r.name} | ${fmt(r.rps, 0)} | ${r.p50} | ${r.p99} | ${fmt(r.vsBare, 2)} | ${r.loopP99 === undefined ? '' : fmt(r.loopP99, 1)} |`,
      );
    }
    console.log(`\npeak RSS of the Latchkey process: ${fmt(rss.peak(), 0)} MB`);
    const v = rows[1]!;
    console.log(
      `targets: /v1/verify >= 0.5 of bare (${fmt(v.vsBare, 2)}), p99 <= 10 ms (${v.p99}), RSS <= 300 MB (${fmt(rss.peak(), 0)})`,
    );

    // The same two targets at a steady load, requests evenly spaced, latency counted from when each
    // was due (so a stall counts for every request it held up).
    const rate = Number(process.env.BENCH_STEADY_RATE ?? Math.round(v.rps / 2 / 100) * 100);
    const steadyTargets = [
      { name: 'bare node:http', latchkey: false, url: bare.url, path: '/' },
      { name: 'POST /v1/verify', latchkey: true, url, path: '/v1/verify' },
    ];
    const steadyRounds: SteadyResult[][] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const round: SteadyResult[] = [];
      for (const t of steadyTargets) {
        if (!t.latchkey) await latchkeyQuiet();
        console.log(
          `measuring ${t.name} at a steady ${fmt(rate, 0)} req/s (round ${r + 1} of ${ROUNDS}) for ${DURATION} s`,
        );
        const s = await steadyProcess({
          url: t.url,
          path: t.path,
          headers,
          tokens: secrets,
          requiredScopes: ['crm:sales.summary:read'],
          rate,
          warmUpSeconds: 3,
          seconds: DURATION,
          sockets: CONNECTIONS,
        });
        if (s.failed > 0) console.warn(`  ${t.name}: ${s.failed} failed`);
        round.push(s);
      }
      steadyRounds.push(round);
    }
    console.log(`\nat a steady ${fmt(rate, 0)} req/s (half of /v1/verify's req/s above), medians of ${ROUNDS} rounds:`);
    console.log('| target | p50 ms | p99 ms | max ms |');
    console.log('|---|---:|---:|---:|');
    steadyTargets.forEach((t, i) => {
      const of = (k: 'p50' | 'p99' | 'max') => fmt(median(steadyRounds.map((round) => round[i]![k])), 1);
      console.log(`| ${t.name} | ${of('p50')} | ${of('p99')} | ${of('max')} |`);
    });
    console.log(
      `round by round, p99 of /v1/verify vs bare: ${steadyRounds.map((round) => `${fmt(round[1]!.p99, 1)} vs ${fmt(round[0]!.p99, 1)} ms`).join(', ')}`,
    );
    writeResult('verify', {
      rounds: ROUNDS,
      secondsPerRound: DURATION,
      connections: CONNECTIONS,
      saturated: rows,
      peakRssMb: rss.peak(),
      steady: {
        rate,
        rows: steadyTargets.map((t, i) => ({
          name: t.name,
          ...Object.fromEntries(
            (['p50', 'p99', 'max'] as const).map((k) => [k, median(steadyRounds.map((round) => round[i]![k]))]),
          ),
        })),
      },
    });
    await usageDb.end();
  } finally {
    bare?.stop();
    await latchkey.stop();
    await cleanUp(bench);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
