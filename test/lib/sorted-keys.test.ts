import t from 'tap'
import { SortedKeys } from '../../lib/sorted-keys.js'

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

t.test('pages follow the live set through adds, deletes and re-adds', async (t) => {
  const live = new Set<string>()
  const keys = new SortedKeys()
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
        live.delete(key)
        keys.delete(key)
      } else {
        live.add(key)
        keys.add(key)
      }
    }
    const expected = [...live].sort()
    t.same(pageAll(keys, 1 + random(40)), expected, `round ${round}`)
  }
})

t.test('a cursor whose key left still pages on from its place', async (t) => {
  const keys = new SortedKeys()
  for (const key of ['d', 'b', 'c', 'a']) keys.add(key)
  const first = keys.page(undefined, 2)
  t.same(first, { keys: ['a', 'b'], more: true })
  keys.delete('b')
  t.same(keys.page('b', 2), { keys: ['c', 'd'], more: false })
  t.same(keys.page('zzz', 2), { keys: [], more: false })
})

t.test('a key deleted and added back between reads is kept once, one added and deleted never shows', async (t) => {
  const keys = new SortedKeys()
  for (const key of ['a', 'b', 'c']) keys.add(key)
  t.same(keys.page(undefined, 10).keys, ['a', 'b', 'c'])
  keys.delete('b')
  keys.add('b')
  keys.add('x')
  keys.delete('x')
  keys.delete('a')
  t.same(keys.page(undefined, 10), { keys: ['b', 'c'], more: false })
})
