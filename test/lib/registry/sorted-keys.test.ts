import t from 'tap'
import { SortedKeys } from '../../../lib/registry/sorted-keys.js'

/** Every key, in pages of `limit`, following `after` as a cursor does. */
function pageAll (keys: SortedKeys, limit: number): string[] {
  const seen: string[] = []
  let after: string | undefined
  for (;;) {
    const page = keys.page(after, limit)
    seen.push(...page.keys)
    if (!page.more) return seen
    after = page.keys[page.keys.length - 1]
  }
}

/** A live set and its SortedKeys, changed together as the registry changes them; counts the rebuilds. */
function liveKeys (): { keys: SortedKeys, live: Set<string>, rebuilds: () => number, add (key: string): void, delete (key: string): void } {
  const live = new Set<string>()
  let rebuilds = 0
  const keys = new SortedKeys(() => {
    rebuilds++
    return live
  })
  return {
    keys,
    live,
    rebuilds: () => rebuilds,
    add (key) { live.add(key); keys.add(key) },
    delete (key) { live.delete(key); keys.delete(key) }
  }
}

t.test('pages follow the live set through adds, deletes and re-adds', async (t) => {
  const { keys, live, ...change } = liveKeys()
  // A fixed pseudo-random sequence, so a failure can be replayed.
  let seed = 42
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % n
  }
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 100; i++) {
      // As the registry does: add what is not there, delete what is.
      const key = `k${random(300)}`
      if (live.has(key)) {
        if (random(3) !== 0) continue
        change.delete(key)
      } else {
        change.add(key)
      }
    }
    const expected = [...live].sort()
    t.same(pageAll(keys, 1 + random(40)), expected, `round ${round}`)
  }
})

t.test('a cursor whose key left still pages on from its place', async (t) => {
  const { keys, ...change } = liveKeys()
  for (const key of ['d', 'b', 'c', 'a']) change.add(key)
  const first = keys.page(undefined, 2)
  t.same(first, { keys: ['a', 'b'], more: true })
  change.delete('b')
  t.same(keys.page('b', 2), { keys: ['c', 'd'], more: false })
  t.same(keys.page('zzz', 2), { keys: [], more: false })
})

t.test('a key deleted and added back between reads is kept once, one added and deleted never shows', async (t) => {
  const { keys, rebuilds, ...change } = liveKeys()
  for (const key of ['a', 'b', 'c']) change.add(key)
  t.same(keys.page(undefined, 10).keys, ['a', 'b', 'c'])
  change.delete('b')
  change.add('b')
  change.add('x')
  change.delete('x')
  change.delete('a')
  t.same(keys.page(undefined, 10), { keys: ['b', 'c'], more: false })
  t.equal(rebuilds(), 1, 'one change against two keys is applied, not rebuilt')
})

t.test('changes are noted only while they are fewer than the keys: else the next read sorts afresh', async (t) => {
  const { keys, rebuilds, ...change } = liveKeys()
  for (let i = 0; i < 1000; i++) change.add(`k${String(i).padStart(4, '0')}`)
  t.equal(rebuilds(), 0, 'nothing is sorted before the first read')
  t.same(keys.page(undefined, 2), { keys: ['k0000', 'k0001'], more: true })
  t.equal(rebuilds(), 1)
  for (let i = 0; i < 500; i++) change.delete(`k${String(i * 2).padStart(4, '0')}`)
  t.same(keys.page(undefined, 2), { keys: ['k0001', 'k0003'], more: true }, '500 changes on 1000 keys: applied')
  t.equal(rebuilds(), 1)
  for (let i = 0; i < 501; i++) change.add(`n${i}`)
  t.same(keys.page('k0999', 2), { keys: ['n0', 'n1'], more: true }, '501 changes on 500 keys: rebuilt')
  t.equal(rebuilds(), 2)
  t.same(keys.page('n98', 3), { keys: ['n99'], more: false })
})
