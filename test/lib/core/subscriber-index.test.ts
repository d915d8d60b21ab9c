import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import type { PublishedEvent } from '../../../lib/broker/broker.js'
import type { Connection } from '../../../lib/core/connection.js'
import { ownCopy, SubscriberIndex } from '../../../lib/core/subscriber-index.js'

/** What the index uses of a stream: its channel names, and `enqueue`, recorded. */
function stream (index: SubscriberIndex, names: string[]): Connection & { got: string[] } {
  const got: string[] = []
  return index.join(names, (channelNames) => ({
    channelNames,
    got,
    enqueue (event: PublishedEvent) {
      got.push(event.id)
      return got.length === 1
    }
  }) as unknown as Connection) as Connection & { got: string[] }
}

const event = (id: string, channelName: string): PublishedEvent =>
  ({ id, seq: 1, channelName, type: 't', payload: null, publishedAt: 0, frame: Buffer.alloc(0) })

t.test('a channel lives from its first stream to its last, and each of its streams gets its events once', async (t) => {
  const index = new SubscriberIndex()
  const a = stream(index, ['news', 'sport'])
  t.same(a.channelNames, ['news', 'sport'], 'the stream keeps the names it asked for')
  t.equal(index.size, 2)
  const b = stream(index, ['news'])
  const c = stream(index, ['news'])
  const dirty: Connection[] = []
  index.enqueue(event('1', 'news'), dirty)
  index.enqueue(event('2', 'sport'), dirty)
  index.enqueue(event('3', 'weather'), dirty)
  t.same([a.got, b.got, c.got], [['1', '2'], ['1'], ['1']])
  t.same(dirty, [a, b, c], 'a stream is dirty once, when its first frame is queued')

  index.leave(b)
  index.leave(a)
  t.ok(index.has('news'))
  t.notOk(index.has('sport'), 'a channel left without streams goes')
  index.leave(a)
  t.equal(index.size, 1, 'leaving twice changes nothing')
  index.leave(c)
  t.equal(index.size, 0)
  const d = stream(index, ['news'])
  index.enqueue(event('4', 'news'), [])
  t.same([c.got, d.got], [['1'], ['4']], 'a channel made again has only its new stream')
})

t.test('ownCopy keeps the text', async (t) => {
  const url = `/subscribe?channels=${'x'.repeat(200)},room`
  const name = url.split('=')[1].split(',')[0]
  t.equal(ownCopy(name), name)
  t.equal(ownCopy('é🙂'), 'é🙂')
  t.equal(ownCopy('\ud800'), '\ud800', 'a lone surrogate, which UTF-8 cannot carry, is kept as it is')
})

t.test('ownCopy keeps nothing of the URL a name was cut from, on either side of the length V8 slices from', async (t) => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const size = 16 << 20
  /** Heap bytes still in use once the URL is gone, with `keep` of a name cut from it held. */
  const retained = (length: number, keep: (name: string) => string): number => {
    gc()
    const before = process.memoryUsage().heapUsed
    const held = ((): string => {
      const url = `/subscribe?channels=${'x'.repeat(size)}`
      return keep(url.slice(20, 20 + length))
    })()
    gc()
    const after = process.memoryUsage().heapUsed
    t.equal(held.length, length)
    return after - before
  }
  t.ok(retained(20, (name) => name) > size / 2, 'a slice of 20 characters keeps the URL (the check can see it)')
  for (const length of [12, 13, 20]) {
    t.ok(retained(length, ownCopy) < size / 16, `the copy of a ${length}-character name keeps nothing of it`)
  }
})
