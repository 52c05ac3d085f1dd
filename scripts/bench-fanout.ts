// npm run bench:fanout — 1,000 graphql-ws subscribers spread over two API processes, 200 token
// lifecycle events published through the API; prints delivery latency (event time to receipt),
// events lost, and the resident memory of each API process. The bare baseline, in the same run:
// two plain `ws` servers broadcasting the same number of messages to the same number of
// WebSocket clients, each message sent by an HTTP request (as the events come from mutations).
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { benchEnv, cleanUp, fmt, graphql, machine, rssMb, startLatchkey, writeResult } from './bench/harness';
import { percentile } from './bench/stats';

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 1_000);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 200);
const RATE = Number(process.env.BENCH_EVENT_RATE ?? 20); // events per second

const BARE = `
const http = require('node:http');
const { WebSocketServer } = require('ws');
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    for (const c of wss.clients) c.send(JSON.stringify({ type: 'next', id: '1', payload: { data: JSON.parse(body) } }));
    res.end('ok');
  });
});
const wss = new WebSocketServer({ server });
server.listen(0, '127.0.0.1', () => console.log('LISTEN ' + server.address().port));`;

/** The same fan-out with nothing in between: plain ws servers broadcasting what they are sent. */
async function bareRun(): Promise<number[]> {
  const procs = [0, 1].map(() =>
    spawn(process.execPath, ['-e', BARE], { stdio: ['ignore', 'pipe', 'inherit'], cwd: __dirname }),
  );
  try {
    const ports = await Promise.all(
      procs.map(
        (p) =>
          new Promise<string>((resolve) =>
            p.stdout!.on(
              'data',
              (d: Buffer) => /LISTEN (\d+)/.test(String(d)) && resolve(/LISTEN (\d+)/.exec(String(d))![1]!),
            ),
          ),
      ),
    );
    const latencies: number[] = [];
    const sockets = await Promise.all(
      Array.from({ length: SUBSCRIBERS }, (_, i) => {
        const ws = new WebSocket(`ws://127.0.0.1:${ports[i % 2]}`);
        ws.on('message', (raw) => latencies.push(Date.now() - JSON.parse(String(raw)).payload.data.at));
        return new Promise<WebSocket>((resolve) => ws.once('open', () => resolve(ws)));
      }),
    );
    const started = Date.now();
    for (let n = 0; n < EVENTS; n++) {
      const due = started + (n * 1000) / RATE;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      const at = Date.now();
      await fetch(`http://127.0.0.1:${ports[n % 2]}/`, { method: 'POST', body: JSON.stringify({ seq: n, at }) });
      // Like the relay's Redis publish, the other server gets the event too.
      await fetch(`http://127.0.0.1:${ports[(n + 1) % 2]}/`, { method: 'POST', body: JSON.stringify({ seq: n, at }) });
    }
    const deadline = Date.now() + 10_000;
    while (latencies.length < SUBSCRIBERS * EVENTS && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    for (const ws of sockets) ws.terminate();
    return latencies.sort((x, y) => x - y);
  } finally {
    for (const p of procs) p.kill();
  }
}

async function main(): Promise<void> {
  const bench = benchEnv('fanout');
  const bare = await bareRun();
  console.log(`bench:fanout on ${machine()}: ${SUBSCRIBERS} subscribers, ${EVENTS} events at ${RATE}/s`);
  const apis = await Promise.all([
    startLatchkey({ ...bench.env, LATCHKEY_ROLE: 'api' }),
    startLatchkey({ ...bench.env, LATCHKEY_ROLE: 'api' }),
  ]);
  try {
    const admin = readFileSync(bench.env.BOOTSTRAP_TOKEN_FILE!, 'utf8').trim();
    const url = apis[0]!.url!;
    const { viewer } = await graphql(
      url,
      admin,
      `
        {
          viewer {
            id
          }
        }
      `,
    );
    const { auditEvents } = await graphql(
      url,
      admin,
      `
        {
          auditEvents(first: 0) {
            totalCount
          }
        }
      `,
    );
    const after = auditEvents.totalCount as number;

    /** Latencies per event: a late event (every subscriber late) points upstream of the fan-out. */
    const bySeq = new Map<number, number[]>();
    const seen = Array.from({ length: SUBSCRIBERS }, () => new Set<number>());
    const clients = Array.from({ length: SUBSCRIBERS }, (_, i) =>
      createClient({
        url: `${apis[i % 2]!.url!.replace('http', 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        lazy: false,
        retryAttempts: 0,
        connectionParams: { authorization: `Bearer ${admin}` },
      }),
    );
    clients.forEach((client, i) =>
      client.subscribe<{ tokenLifecycle: { seq: number; at: string } }>(
        {
          query: `subscription($after: Int) { tokenLifecycle(afterSeq: $after, kinds: [ISSUED]) { seq at kind token { id name } } }`,
          variables: { after },
        },
        {
          next: ({ data }) => {
            if (!data) return;
            seen[i]!.add(data.tokenLifecycle.seq);
            const ms = Date.now() - Date.parse(data.tokenLifecycle.at);
            const mine = bySeq.get(data.tokenLifecycle.seq);
            if (mine) mine.push(ms);
            else bySeq.set(data.tokenLifecycle.seq, [ms]);
          },
          error: (err) => console.error(`subscriber ${i}:`, err),
          complete: () => undefined,
        },
      ),
    );
    await new Promise((r) => setTimeout(r, 3_000)); // connections and subscriptions settle
    const heapUsed = async (u: string) =>
      Number(
        /^latchkey_nodejs_heap_size_used_bytes (\S+)$/m.exec(await (await fetch(`${u}/metrics`)).text())?.[1] ?? NaN,
      ) /
      2 ** 20;
    console.log(
      `heap used with ${SUBSCRIBERS / 2} subscriptions each: ${(await Promise.all(apis.map((a) => heapUsed(a.url!)))).map((mb) => fmt(mb, 0)).join(' MB, ')} MB`,
    );

    const started = Date.now();
    for (let n = 0; n < EVENTS; n++) {
      const due = started + (n * 1000) / RATE;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      await graphql(
        apis[n % 2]!.url!,
        admin,
        `
          mutation ($o: ID!, $n: String!) {
            issueToken(input: { ownerId: $o, name: $n, scopes: [] }) {
              token {
                id
              }
            }
          }
        `,
        { o: viewer.id, n: `fanout-${n}` },
      );
    }
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && seen.some((s) => s.size < EVENTS)) await new Promise((r) => setTimeout(r, 100));

    const lost = seen.reduce((sum, s) => sum + (EVENTS - s.size), 0);
    const latencies = [...bySeq.values()].flat().sort((x, y) => x - y);
    console.log('\n| subscribers | events | deliveries | p50 ms | p99 ms | max ms | lost | RSS A MB | RSS B MB |');
    console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    console.log(
      `| ${SUBSCRIBERS} | ${EVENTS} | ${latencies.length} | ${percentile(latencies, 50)} | ${percentile(latencies, 99)} | ${latencies.at(-1)} | ${lost} | ${fmt(rssMb(apis[0]!.proc.pid!, 'VmHWM'), 0)} | ${fmt(rssMb(apis[1]!.proc.pid!, 'VmHWM'), 0)} |`,
    );
    console.log(
      `| bare ws broadcast | ${EVENTS} | ${bare.length} | ${percentile(bare, 50)} | ${percentile(bare, 99)} | ${bare.at(-1)} | ${SUBSCRIBERS * EVENTS - bare.length} | | |`,
    );
    console.log(
      `Latchkey vs bare: p50 ${fmt(percentile(latencies, 50) / Math.max(1, percentile(bare, 50)), 1)}×, p99 ${fmt(percentile(latencies, 99) / Math.max(1, percentile(bare, 99)), 1)}×`,
    );
    const slowest = [...bySeq]
      .map(([seq, ms]) => ({
        seq,
        fastest: Math.min(...ms),
        median: percentile(
          ms.sort((x, y) => x - y),
          50,
        ),
        slowest: Math.max(...ms),
      }))
      .sort((x, y) => y.median - x.median)
      .slice(0, 3);
    console.log(
      `slowest events (fastest/median/slowest delivery, ms): ${slowest.map((e) => `seq ${e.seq}: ${e.fastest}/${e.median}/${e.slowest}`).join(', ')}`,
    );
    console.log(`targets: p99 <= 250 ms (${percentile(latencies, 99)}), 0 lost (${lost})`);
    writeResult('fanout', {
      subscribers: SUBSCRIBERS,
      events: EVENTS,
      rate: RATE,
      deliveries: latencies.length,
      latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) },
      lost,
      bare: { deliveries: bare.length, p50: percentile(bare, 50), p99: percentile(bare, 99), max: bare.at(-1) },
      rssMb: apis.map((a) => rssMb(a.proc.pid!, 'VmHWM')),
    });
    await Promise.all(clients.map(async (c) => c.dispose()));
  } finally {
    await Promise.all(apis.map((a) => a.stop()));
    await cleanUp(bench);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
