// An open-loop load generator: requests leave at a fixed rate, evenly spaced, whether or not
// earlier ones have been answered, and each latency counts from when its request was due to
// leave. Autocannon keeps 64 requests in flight and sends the next when one returns, so its
// latency is the server's queue at saturation; this shows the latency a gateway sees at a load
// the server can carry. A client that falls behind (every socket busy) still counts the wait.
//
// It runs in a process of its own (steadyProcess), so that the pauses of a bench process holding
// 100,000 secrets and autocannon's histograms are not counted as the server's. It writes requests
// and reads responses on plain sockets rather than through node:http's client. That client took
// 35–47 µs of CPU a request (this one 16), about half of what Latchkey spends, and in some runs
// collected garbage every 80 ms for 4–12 ms at a time: on two cores shared with the server and
// Postgres, its own work and pauses were counted as the server's latency.
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { percentile } from './stats';

export interface SteadyResult {
  /** Answers with a status other than 2xx, and transport errors. */
  failed: number;
  p50: number;
  p99: number;
  max: number;
}

/**
 * A keep-alive HTTP/1.1 connection carrying one request at a time. It reads of each response only
 * the status and where it ends (Content-Length), which is all a latency needs; a response without
 * a length is an error rather than a guess.
 */
class Connection {
  private readonly socket: Socket;
  private buffered = '';
  private pending: ((ok: boolean) => void) | null = null;
  closed = false;

  constructor(port: number, host: string) {
    this.socket = connect({ port, host, noDelay: true });
    this.socket.setEncoding('latin1'); // one character per byte, so Content-Length counts characters
    this.socket.on('data', (d: string) => this.read(d));
    const close = () => {
      this.closed = true;
      this.settle(false);
    };
    this.socket.on('error', close);
    this.socket.on('close', close);
  }

  send(request: string, done: (ok: boolean) => void): void {
    this.pending = done;
    this.socket.write(request, 'latin1');
  }

  destroy(): void {
    this.socket.destroy();
  }

  private settle(ok: boolean): void {
    const done = this.pending;
    this.pending = null;
    done?.(ok);
  }

  private read(data: string): void {
    this.buffered += data;
    const head = this.buffered.indexOf('\r\n\r\n');
    if (head < 0) return;
    const status = Number(this.buffered.slice(9, 12));
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(this.buffered.slice(0, head));
    if (!length && status !== 204 && status !== 304) {
      this.socket.destroy(new Error(`a response without Content-Length: ${this.buffered.slice(0, head)}`));
      return;
    }
    const end = head + 4 + (length ? Number(length[1]) : 0);
    if (this.buffered.length < end) return;
    this.buffered = this.buffered.slice(end);
    this.settle(status >= 200 && status < 300);
  }
}

/** POSTs `rate` requests a second for `seconds`, a fresh body each, over connections used in turn. */
async function steady(
  spec: SteadySpec,
  body: () => string,
  seconds: number,
  connections: Connection[],
): Promise<SteadyResult> {
  const { url, path, headers, rate } = spec;
  const { host, hostname, port } = new URL(url);
  const head = `POST ${path} HTTP/1.1\r\nhost: ${host}\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}`;
  const total = Math.round(rate * seconds);
  const latencies = new Float64Array(total);
  const idle = [...connections];
  const waiting: number[] = []; // requests due while every connection was busy, oldest first
  let waitingFrom = 0;
  let sent = 0;
  let done = 0;
  let failed = 0;
  const start = performance.now();
  const interval = 1000 / rate;

  await new Promise<void>((resolve) => {
    const send = (i: number, taken: Connection) => {
      // A connection the server closed is replaced, so the run keeps its number of connections.
      const c = taken.closed ? new Connection(Number(port), hostname) : taken;
      const b = body();
      c.send(`${head}content-length: ${Buffer.byteLength(b)}\r\n\r\n${b}`, (ok) => {
        latencies[i] = performance.now() - (start + i * interval);
        if (!ok) failed++;
        if (++done === total) resolve();
        if (waitingFrom < waiting.length) send(waiting[waitingFrom++]!, c);
        else idle.push(c);
      });
    };
    // Timers fire at most every millisecond: each tick sends every request that has fallen due.
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1);
      for (; sent < due; sent++) {
        const c = idle.shift();
        if (c) send(sent, c);
        else waiting.push(sent);
      }
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });

  connections.splice(0, connections.length, ...idle);
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
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as SteadyResult) : reject(new Error(`steady client exited with ${code}`)),
    );
    child.stdin.end(JSON.stringify(spec));
  });
}

async function childMain(): Promise<void> {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const spec = JSON.parse(input) as SteadySpec;
  const body = () =>
    JSON.stringify({
      token: spec.tokens[Math.floor(Math.random() * spec.tokens.length)],
      requiredScopes: spec.requiredScopes,
    });
  // The same connections for both, so the measured run finds them open.
  const { hostname, port } = new URL(spec.url);
  const connections = Array.from({ length: spec.sockets }, () => new Connection(Number(port), hostname));
  await steady(spec, body, spec.warmUpSeconds, connections);
  const result = await steady(spec, body, spec.seconds, connections);
  for (const c of connections) c.destroy();
  process.stdout.write(JSON.stringify(result));
}

if (require.main === module) {
  childMain().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
