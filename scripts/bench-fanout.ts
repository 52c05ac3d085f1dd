// npm run bench:fanout — 1,000 graphql-ws subscribers spread over two API processes, 200 token
// lifecycle events published through the API; prints delivery latency (event time to receipt),
// events lost, and the resident memory of each API process.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { benchEnv, cleanUp, fmt, graphql, machine, rssMb, startLatchkey } from './bench/harness';

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 1_000);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 200);
const RATE = Number(process.env.BENCH_EVENT_RATE ?? 20); // events per second

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function main(): Promise<void> {
  const bench = benchEnv('fanout');
  console.log(`bench:fanout on ${machine()}: ${SUBSCRIBERS} subscribers, ${EVENTS} events at ${RATE}/s`);
  const apis = await Promise.all([startLatchkey({ ...bench.env, LATCHKEY_ROLE: 'api' }), startLatchkey({ ...bench.env, LATCHKEY_ROLE: 'api' })]);
  try {
    const admin = readFileSync(bench.env.BOOTSTRAP_TOKEN_FILE!, 'utf8').trim();
    const url = apis[0]!.url!;
    const { viewer } = await graphql(url, admin, `{ viewer { id } }`);
    const { auditEvents } = await graphql(url, admin, `{ auditEvents(first: 0) { totalCount } }`);
    const after = auditEvents.totalCount as number;

    const latencies: number[] = [];
    const seen = Array.from({ length: SUBSCRIBERS }, () => new Set<number>());
    const clients = Array.from({ length: SUBSCRIBERS }, (_, i) =>
      createClient({ url: `${apis[i % 2]!.url!.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0, connectionParams: { authorization: `Bearer ${admin}` } }),
    );
    clients.forEach((client, i) =>
      client.subscribe<{ tokenLifecycle: { seq: number; at: string } }>(
        { query: `subscription($after: Int) { tokenLifecycle(afterSeq: $after, kinds: [ISSUED]) { seq at kind token { id name } } }`, variables: { after } },
        {
          next: ({ data }) => {
            if (!data) return;
            seen[i]!.add(data.tokenLifecycle.seq);
            latencies.push(Date.now() - Date.parse(data.tokenLifecycle.at));
          },
          error: (err) => console.error(`subscriber ${i}:`, err),
          complete: () => undefined,
        },
      ),
    );
    await new Promise((r) => setTimeout(r, 3_000)); // connections and subscriptions settle

    const started = Date.now();
    for (let n = 0; n < EVENTS; n++) {
      const due = started + (n * 1000) / RATE;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      await graphql(apis[n % 2]!.url!, admin, `mutation($o: ID!, $n: String!) { issueToken(input: { ownerId: $o, name: $n, scopes: [] }) { token { id } } }`, { o: viewer.id, n: `fanout-${n}` });
    }
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && seen.some((s) => s.size < EVENTS)) await new Promise((r) => setTimeout(r, 100));

    const lost = seen.reduce((sum, s) => sum + (EVENTS - s.size), 0);
    latencies.sort((x, y) => x - y);
    console.log('\n| subscribers | events | deliveries | p50 ms | p99 ms | max ms | lost | RSS A MB | RSS B MB |');
    console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    console.log(
      `| ${SUBSCRIBERS} | ${EVENTS} | ${latencies.length} | ${percentile(latencies, 50)} | ${percentile(latencies, 99)} | ${latencies.at(-1)} | ${lost} | ${fmt(rssMb(apis[0]!.proc.pid!, 'VmHWM'), 0)} | ${fmt(rssMb(apis[1]!.proc.pid!, 'VmHWM'), 0)} |`,
    );
    console.log(`targets: p99 <= 250 ms (${percentile(latencies, 99)}), 0 lost (${lost})`);
    await Promise.all(clients.map((c) => c.dispose()));
  } finally {
    await Promise.all(apis.map((a) => a.stop()));
    await cleanUp(bench);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
