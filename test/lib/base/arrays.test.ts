import { setFlagsFromString } from 'node:v8'
import t from 'tap'
import { packedMap } from '../../../lib/base/arrays.js'

// V8's own checks of hidden classes, reachable from functions compiled after this flag is set.
setFlagsFromString('--allow-natives-syntax')
// eslint-disable-next-line no-new-func, @typescript-eslint/no-implied-eval
const natives = new Function(`return {
  sameMap: (a, b) => %HaveSameMap(a, b),
  holey: (a) => %HasHoleyElements(a),
  optimizeNext: (f) => { %PrepareFunctionForOptimization(f) },
  optimizeNow: (f) => { %OptimizeFunctionOnNextCall(f) },
  optimized: (f) => (%GetOptimizationStatus(f) & 16) !== 0
}`)() as {
  sameMap: (a: unknown, b: unknown) => boolean
  holey: (a: unknown) => boolean
  optimizeNext: (f: unknown) => void
  optimizeNow: (f: unknown) => void
  optimized: (f: unknown) => boolean
}

t.test('maps like Array.prototype.map, with the index', async (t) => {
  t.same(packedMap(['a', 'bb'], (s, i) => `${s}${i}`), ['a0', 'bb1'])
  t.same(packedMap([], () => 1), [])
  t.same(packedMap([1, 2], () => undefined), [undefined, undefined])
})

t.test('its result has one hidden class, before and after its caller is optimized', async (t) => {
  const names = (channels: ReadonlyArray<{ name: string }>): string[] => packedMap(channels, (channel) => channel.name)
  const channels = [{ name: 'news' }, { name: 'sport' }]
  const before = names(channels)
  natives.optimizeNext(names)
  // Type feedback for the optimizing compiler, down to the calls inside packedMap.
  for (let i = 0; i < 1000; i++) names(channels)
  natives.optimizeNow(names)
  const after = names(channels)
  t.ok(natives.optimized(names), 'the caller runs optimized')
  t.same(after, ['news', 'sport'])
  t.notOk(natives.holey(before), 'packed from the interpreter')
  t.notOk(natives.holey(after), 'packed from optimized code')
  t.ok(natives.sameMap(before, after), 'one hidden class: code reading these arrays does not deoptimize')
})
