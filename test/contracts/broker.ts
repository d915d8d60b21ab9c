import type { Test } from 'tap'
import type { Broker, PublishedEvent } from '../../lib/broker/broker.js'
import type { EventInput } from '../../lib/base/names.js'
import { waitUntil } from '../helper.js'

/** A tap test, the top one or a subtest. */
type Assertions = Test

/** A broker made for one test, with what it delivers; `historySize` and `maxRetainedChannels` as asked, no subscribers. */
export type MakeBroker = (t: Assertions, options: { historySize: number, maxRetainedChannels?: number }) => Promise<{ broker: Broker, delivered: PublishedEvent[] }>

const events = (...specs: Array<[string, string, unknown]>): EventInput[] => specs.map(([channelName, type, payload]) => ({ channelName, type, payload }))

/**
 * What every broker promises the hub (lib/broker/broker.ts), checked the same way for each
 * implementation, so that the in-memory and the cluster broker cannot drift apart.
 */
export function brokerContract (t: Assertions, make: MakeBroker): void {
  t.test('a publish numbers its events in order, in one epoch, and delivers each once, in order', async (t) => {
    const { broker, delivered } = await make(t, { historySize: 10 })
    const first = await broker.publish(events(['a', 'x', 1], ['b', 'y', { n: 2 }]))
    const second = await broker.publish(events(['a', 'z', null]))
    const all = [...first, ...second]
    t.ok(all.every((event, i) => i === 0 || event.seq > all[i - 1].seq), 'seqs increase')
    t.equal(new Set(all.map((event) => event.id.slice(0, event.id.lastIndexOf('-')))).size, 1, 'one epoch')
    t.same(all.map((event) => event.frame.toString()), all.map((event) =>
      frameText(event.id, event.type, JSON.stringify({ channelName: event.channelName, type: event.type, payload: event.payload }))))
    await waitUntil(() => delivered.length >= 3, 5000, 'the deliveries')
    await new Promise((resolve) => setTimeout(resolve, 50))
    t.same(delivered.map((event) => event.id), all.map((event) => event.id), 'delivered once each, in order')
    t.same(delivered.map((event) => event.payload), [1, { n: 2 }, null])
    t.same(await broker.publish([]), [], 'an empty batch')
  })

  t.test('lastEvent: the last event of a channel, undefined when none', async (t) => {
    const { broker } = await make(t, { historySize: 10 })
    t.equal(await broker.lastEvent('nothing-here'), undefined)
    const [, last] = await broker.publish(events(['c', 'one', 1], ['c', 'two', { deep: [true] }]))
    t.match(await broker.lastEvent('c'), { id: last.id, seq: last.seq, channelName: 'c', type: 'two', payload: { deep: [true] } })
  })

  t.test('startPoint: snapshots without an id, the missed events with a known one, snapshots for any other', async (t) => {
    const { broker } = await make(t, { historySize: 10 })
    const published = await broker.publish(events(['a', 't', 1], ['b', 't', 2], ['other', 't', 3], ['a', 't', 4], ['b', 't', 5]))
    const fresh = await broker.startPoint(['a', 'b', 'never'], undefined)
    t.equal(fresh.resumed, false)
    if (!fresh.resumed) {
      t.same(fresh.lastEvents.map((last) => last?.payload), [4, 5, undefined])
      t.equal(fresh.headSeq, published[4].seq)
      t.equal(fresh.headId, published[4].id)
    }
    const resumed = await broker.startPoint(['a', 'b'], published[1].id)
    t.equal(resumed.resumed, true)
    if (resumed.resumed) {
      t.same(resumed.missed.map((event) => event.seq), [published[3].seq, published[4].seq], 'the missed events of its channels, oldest first')
      t.same(resumed.missed.map((event) => event.frame.toString()), [published[3].frame.toString(), published[4].frame.toString()])
    }
    const current = await broker.startPoint(['a'], published[4].id)
    t.ok(current.resumed && current.missed.length === 0, 'nothing missed')
    const epoch = published[0].id.slice(0, published[0].id.lastIndexOf('-'))
    for (const id of ['ffffffff-1', 'garbage', `${epoch}-999999`, `${epoch}-x`]) {
      t.equal((await broker.startPoint(['a'], id)).resumed, false, `unknown id ${id}`)
    }
  })

  t.test('startPoint: a resume across events that history let go of gets the snapshots', async (t) => {
    const { broker } = await make(t, { historySize: 2 })
    const published = await broker.publish(events(['a', 't', 1], ['a', 't', 2], ['a', 't', 3], ['a', 't', 4]))
    t.equal((await broker.startPoint(['a'], published[0].id)).resumed, false, 'event 2 is gone')
    const recent = await broker.startPoint(['a'], published[1].id)
    t.ok(recent.resumed && recent.missed.length === 2, 'events 3 and 4 are there')
  })

  t.test('a batch with a payload JSON cannot express is refused whole', async (t) => {
    const { broker, delivered } = await make(t, { historySize: 10 })
    await t.rejects(broker.publish(events(['a', 't', 1], ['a', 't', 10n])), { statusCode: 400, message: /^events\/1\/payload: cannot be serialised as JSON/ })
    await new Promise((resolve) => setTimeout(resolve, 50))
    t.equal(await broker.lastEvent('a'), undefined, 'nothing stored')
    t.equal(delivered.length, 0, 'nothing delivered')
  })

  t.test('resuming across a forgotten channel is refused, not resumed with a hole', async (t) => {
    const { broker } = await make(t, { historySize: 10, maxRetainedChannels: 2 })
    const [before] = await broker.publish(events(['a', 't', 0]))
    await broker.publish(events(['x', 't', 1], ['y', 't', 2], ['z', 't', 3]))
    t.equal(await broker.lastEvent('x'), undefined)
    const resume = async (channelNames: string[], id: string): Promise<boolean> => (await broker.startPoint(channelNames, id)).resumed
    t.equal(await resume(['x'], before.id), false, 'x had an event after the position and forgot it')
    t.equal(await resume(['a', 'z'], before.id), false, 'a was forgotten too')
    const [xAgain] = await broker.publish(events(['x', 't', 4]))
    t.equal(await resume(['x'], before.id), false, 'x is back, its first event is still missing')
    t.equal(await resume(['x'], xAgain.id), true, 'from after the forgotten events it resumes')
    const [, zLast] = await broker.publish(events(['z', 't', 5], ['z', 't', 6]))
    const start = await broker.startPoint(['z'], xAgain.id)
    t.same(start.resumed ? start.missed.map((e) => e.seq) : [], [zLast.seq - 1, zLast.seq])
  })
}

function frameText (id: string, type: string, data: string): string {
  const text = `id: ${id}\nevent: ${type}\ndata: ${data}\n\n`
  return `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`
}
