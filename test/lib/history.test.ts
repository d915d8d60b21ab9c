import t from 'tap'
import type { RetainedEvent } from '../../lib/broker.js'
import { ChannelHistory } from '../../lib/history.js'

const at = (seq: number, publishedAt = 0): RetainedEvent => ({ seq, publishedAt, frame: Buffer.from(`id: ${seq}\n\n`) })
type Event = RetainedEvent
const seqs = (events: Event[]) => events.map((event) => event.seq)

t.test('keeps the newest events up to the count limit', async (t) => {
  const history = new ChannelHistory(3, 0)
  for (const seq of [1, 4, 6, 9, 12]) history.push(at(seq))
  t.equal(history.size, 3)
  t.equal(history.evictedThrough, 4)
  const out: Event[] = []
  t.equal(history.collectAfter(6, out), true)
  t.same(seqs(out), [9, 12])
  t.equal(history.collectAfter(3, []), false, 'seq 4 was dropped: cannot resume from 3')
  const all: Event[] = []
  t.equal(history.collectAfter(4, all), true)
  t.same(seqs(all), [6, 9, 12])
  const none: Event[] = []
  history.collectAfter(12, none)
  t.same(seqs(none), [])
})

t.test('drops events older than the age limit', async (t) => {
  const history = new ChannelHistory(100, 1000)
  history.push(at(1, 0))
  history.push(at(2, 500))
  history.push(at(3, 1500))
  history.prune(1400)
  t.equal(history.size, 2, 'older than 1000 ms at 1400: only the first')
  t.equal(history.evictedThrough, 1)
  history.prune(3000)
  t.equal(history.size, 0)
  t.equal(history.evictedThrough, 3)
})

t.test('size 0 keeps nothing and resumes nothing that was published', async (t) => {
  const history = new ChannelHistory(0, 0)
  history.push(at(7))
  t.equal(history.size, 0)
  t.equal(history.collectAfter(6, []), false)
  t.equal(history.collectAfter(7, []), true)
})
