import { executionAsyncResource } from 'node:async_hooks';

/** The TickObject kept (see keepTickObjectShape); read by its test. */
let keptTick: object | undefined;

/**
 * Keeps one of Node's `process.nextTick` records alive for the life of the process, so that the hidden classes
 * V8 builds for them are never collected and rebuilt.
 *
 * Why: Node serves each HTTP request with about eight `nextTick`s (the body stream's resume and end, destroy,
 * the write callbacks), and each one builds `{ [async_id_symbol], [trigger_async_id_symbol], callback, args }`.
 * When no such record is alive at a full GC — which the start-up of a large application makes likely — V8 drops
 * their hidden classes and builds new ones for the next record; after a few rounds the property stores in
 * `nextTick` have seen too many classes, turn megamorphic for good, and every later `nextTick` defines its
 * properties through the V8 runtime. Under the pair benchmark that was 3–5 % of the node's CPU, against none for
 * the same code in a small process (docs/benchmarks.md, "The pair: where the rest of the time went").
 * Called first thing at start-up, before anything has had the chance to churn the heap.
 */
export function keepTickObjectShape(): void {
  // Inside a tick callback, the execution resource is the tick's own record.
  process.nextTick(() => {
    keptTick = executionAsyncResource();
  });
}

/** The record kept, once the tick has run. */
export function keptTickObject(): object | undefined {
  return keptTick;
}
