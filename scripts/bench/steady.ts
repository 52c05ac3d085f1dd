// An open-loop load generator: requests leave at a fixed rate, evenly spaced, whether or not
// earlier ones have been answered, and each latency counts from when its request was due to
// leave. Autocannon keeps 64 requests in flight and sends the next when one returns, so its
// latency is the server's queue at saturation; this shows the latency a gateway sees at a load
// the server can carry. A client that falls behind (every socket busy) still counts the wait.
//
// It runs in a small process of its own (steadyProcess), so that the pauses of a bench process
// holding 100,000 secrets and autocannon's histograms are not counted as the server's.
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { percentile } from './stats';

export interface SteadyResult {
  /** Answers with a status other than 2xx, and transport errors. */
  failed: number;
  p50: number;
  p99: number;
  max: number;
}

/** POSTs `rate` requests a second for `seconds` over the agent's keep-alive connections, a fresh body each. */
async function steady(spec: SteadySpec, body: () => string, seconds: number, agent: Agent): Promise<SteadyResult> {
  const { url, path, headers, rate } = spec;
  const { hostname, port } = new URL(url);
  const total = Math.round(rate * seconds);
  const latencies = new Float64Array(total);
  let sent = 0;
  let done = 0;
  let failed = 0;
  const start = performance.now();
  const interval = 1000 / rate;

  await new Promise<void>((resolve) => {
    const finish = (i: number, ok: boolean) => {
      latencies[i] = performance.now() - (start + i * interval);
      if (!ok) failed++;
      if (++done === total) resolve();
    };
    const send = (i: number) => {
      const req = request({ agent, hostname, port, method: 'POST', path, headers }, (res) => {
        res.on('end', () => finish(i, res.statusCode! >= 200 && res.statusCode! < 300));
        res.resume();
      });
      req.on('error', () => finish(i, false));
      req.end(body());
    };
    // Timers fire at most every millisecond: each tick sends every request that has fallen due.
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1);
      while (sent < due) send(sent++);
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });

  const sorted = latencies.sort();
  return { failed, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[total - 1]! };
}

/** What a steady run in its own process sends: POST `path` with `{ token, requiredScopes }`, a random token each time. */
export interface SteadySpec {
  url: string;
  path: string;
  headers: Record<string, string>;
  tokens: string[];
  requiredScopes: string[];
  rate: number;
  warmUpSeconds: number;
  seconds: number;
  sockets: number;
}

/** Runs a warm-up then a measured steady run in a fresh node process; the spec (secrets included) goes over a pipe. */
export function steadyProcess(spec: SteadySpec): Promise<SteadyResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [__filename], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as SteadyResult) : reject(new Error(`steady client exited with ${code}`))));
    child.stdin.end(JSON.stringify(spec));
  });
}

async function childMain(): Promise<void> {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const spec = JSON.parse(input) as SteadySpec;
  const body = () => JSON.stringify({ token: spec.tokens[Math.floor(Math.random() * spec.tokens.length)], requiredScopes: spec.requiredScopes });
  // One agent for both, so the measured run finds its connections open.
  const agent = new Agent({ keepAlive: true, maxSockets: spec.sockets });
  await steady(spec, body, spec.warmUpSeconds, agent);
  const result = await steady(spec, body, spec.seconds, agent);
  agent.destroy();
  process.stdout.write(JSON.stringify(result));
}

if (require.main === module) {
  childMain().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
