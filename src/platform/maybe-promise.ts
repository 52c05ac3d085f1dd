// A value now or later: the gateway path answers synchronously when everything it needs is in
// memory, and pays for a promise only when it is not.
export type MaybePromise<T> = T | Promise<T>;

/** Continues with f at once for a value, or after the promise for a promise. */
export function andThen<T, R>(value: MaybePromise<T>, f: (v: T) => MaybePromise<R>): MaybePromise<R> {
  return value instanceof Promise ? value.then(f) : f(value);
}
/** The promise under way for `key`, or a new one from `start`, which leaves the map once settled. */
export function joinOrStart<K, V>(running: Map<K, Promise<V>>, key: K, start: () => Promise<V>): Promise<V> {
  const current = running.get(key);
  if (current) return current;
  const started = start();
  running.set(key, started);
  const done = () => {
    if (running.get(key) === started) running.delete(key);
  };
  started.then(done, done);
  return started;
}

/** The reading, or undefined when it fails or takes longer than `ms`: for answers that must not wait on a dependency. */
export function withinMs<T>(reading: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([
    reading.catch(() => undefined),
    new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref()),
  ]);
}
