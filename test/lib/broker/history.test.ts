import t from 'tap'
import type { RetainedEvent } from '../../../lib/broker/broker.js'
import { ChannelHistory } from '../../../lib/broker/history.js'

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

t.test('frames come back byte for byte through slab changes, evictions and frames larger than a slab', async (t) => {
  const history = new ChannelHistory(50, 1000)
  const kept: RetainedEvent[] = []
  // A fixed pseudo-random sequence of sizes, so a failure can be replayed; some above 64 KiB.
  let seed = 7
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % n
  }
  for (let seq = 1; seq <= 600; seq++) {
    const size = random(10) === 0 ? 70_000 + random(5000) : 20 + random(900)
    const frame = Buffer.alloc(size, seq % 251)
    frame.writeUInt32BE(seq, 0)
    const event = { seq, publishedAt: seq, frame }
    history.push(event)
    kept.push({ ...event, frame: Buffer.from(frame) })
    frame.fill(0) // the history holds a copy, not the caller's Buffer
    if (seq % 97 === 0) history.prune(seq + 1000 - 10) // age: drops all but the last 10
    const expected = kept.filter((e) => e.seq > history.evictedThrough)
    t.equal(history.size, expected.length)
    const out: RetainedEvent[] = []
    t.equal(history.collectAfter(history.evictedThrough, out), true)
    if (!out.every((e, i) => e.seq === expected[i].seq && e.frame.equals(expected[i].frame))) {
      t.fail(`frames differ after seq ${seq}`)
      return
    }
  }
  t.equal(history.evictedThrough, 571, 'the last pruning, at 582, left 572 on')
})

t.test('a history emptied by age takes events again, frames intact', async (t) => {
  const history = new ChannelHistory(100, 1000)
  const frameOf = (seq: number, size: number) => Buffer.alloc(size, seq)
  history.push({ seq: 1, publishedAt: 0, frame: frameOf(1, 300) })
  history.push({ seq: 2, publishedAt: 0, frame: frameOf(2, 100) })
  history.prune(2000)
  t.equal(history.size, 0)
  const sizes = [50, 2000, 200, 900]
  sizes.forEach((size, i) => history.push({ seq: 3 + i, publishedAt: 3000, frame: frameOf(3 + i, size) }))
  const out: RetainedEvent[] = []
  t.equal(history.collectAfter(1, out), false, 'seq 2 is gone')
  t.equal(history.collectAfter(2, out), true)
  t.same(seqs(out), [3, 4, 5, 6])
  t.ok(out.every((e, i) => e.frame.equals(frameOf(e.seq, sizes[i]))))
})
