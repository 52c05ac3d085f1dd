// Subscriptions execute their selection once per event for every subscriber who would get the
// same answer: the same operation and variables, in the same tenant, with the same permissions
// and owner restriction. graphql-js would execute it once per subscriber; with a thousand
// dashboards watching, that is where the time went.
import { createSourceEventStream, execute, type ExecutionArgs, type ExecutionResult, print } from 'graphql';
import { tokenOwnerRestriction } from '../iam/principal';
import type { RequestContext } from '../iam/request-context';
import type { Metrics } from '../platform/metrics';

type Result = ExecutionResult | Promise<ExecutionResult>;

// Keyed by the event object the streams hand out (shared by the subscribers it reached), so an
// entry lives exactly as long as the event is being delivered.
const results = new WeakMap<object, Map<string, Result>>();

/** Who sees what: subscribers with the same key get the same answer for the same event. */
export function audienceOf(ctx: RequestContext): string {
  const p = ctx.principal;
  return `${p.tenantId}|${tokenOwnerRestriction(p) ?? '*'}|${[...p.permissions].sort().join(',')}`;
}

/** The subscription's root field, which names it in the metrics. */
function fieldOf(args: ExecutionArgs): string {
  for (const d of args.document.definitions) {
    if (d.kind === 'OperationDefinition' && (!args.operationName || d.name?.value === args.operationName)) {
      const first = d.selectionSet.selections[0];
      return first?.kind === 'Field' ? first.name.value : 'unknown';
    }
  }
  return 'unknown';
}

export async function sharedSubscribe(
  args: ExecutionArgs,
  audience: string,
  metrics: Pick<Metrics, 'subscriptionExecutions' | 'subscriptionDeliveries'>,
): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const stream = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in stream)) return stream as ExecutionResult;
  const key = `${audience}\n${args.operationName ?? ''}\n${JSON.stringify(args.variableValues ?? {})}\n${print(args.document)}`;
  const field = fieldOf(args);
  const executions = metrics.subscriptionExecutions(field);
  const deliveries = metrics.subscriptionDeliveries(field);
  const run = (payload: unknown) => {
    executions.inc();
    return execute({ ...args, rootValue: payload });
  };
  return mapStream(stream as AsyncIterable<unknown>, (payload) => {
    deliveries.inc(); // every value of the stream is one message to this subscriber
    if (payload === null || typeof payload !== 'object') return run(payload);
    let byKey = results.get(payload);
    if (!byKey) results.set(payload, (byKey = new Map()));
    let result = byKey.get(key);
    if (!result) byKey.set(key, (result = run(payload)));
    return result;
  });
}

/** Maps a stream; return() reaches the source at once, even while it waits for its next value. */
function mapStream<T, R>(source: AsyncIterable<T>, map: (value: T) => R | Promise<R>): AsyncIterableIterator<R> {
  const it = source[Symbol.asyncIterator]();
  return {
    async next() {
      const r = await it.next();
      return r.done ? { value: undefined, done: true } : { value: await map(r.value), done: false };
    },
    async return() {
      await it.return?.();
      return { value: undefined, done: true };
    },
    async throw(err: unknown) {
      if (it.throw) {
        const r = await it.throw(err);
        return r.done ? { value: undefined, done: true } : { value: await map(r.value), done: false };
      }
      throw err;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
