/**
 * `items.map(fn)` whose result has the same hidden class however V8 runs it. On Node 20 (V8 11.3),
 * `Array.prototype.map` returns a packed array from its builtin and a holey one once the
 * optimizing compiler inlines it, so every function that reads such arrays and was optimized on
 * the first kind deoptimizes ("wrong map") when its caller is optimized, and compiles again: on a
 * burst of connects, the whole subscribe path. An array grown by `push` stays packed in both.
 */
export function packedMap<T, U> (items: readonly T[], fn: (item: T, index: number) => U): U[] {
  const out: U[] = []
  for (let i = 0; i < items.length; i++) out.push(fn(items[i], i))
  return out
}
