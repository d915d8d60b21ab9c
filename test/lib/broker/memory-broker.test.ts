import t from 'tap'
import type { PublishedEvent } from '../../../lib/broker/broker.js'
import { MemoryBroker } from '../../../lib/broker/memory-broker.js'
import { brokerContract } from '../../contracts/broker.js'

const event = (channelName: string, payload: number) => ({ channelName, type: 'n', payload })

t.test('expired events are dropped from channels nobody touches any more', async (t) => {
  const broker = new MemoryBroker({ historySize: 100, historyTtl: 30, sweepInterval: 20 })
  t.teardown(() => broker.close())
  const [first] = await broker.publish([event('idle', 1), event('idle', 2), event('other', 3)])
  t.equal(broker.retainedCount, 3)
  await new Promise((resolve) => setTimeout(resolve, 120))
  t.equal(broker.retainedCount, 0, 'swept without a publish or a resume on the channels')
  const start = await broker.startPoint(['idle'], first.id)
  t.equal(start.resumed, false, 'a resume from before the sweep is refused, not taken for "nothing missed"')
  t.same(start.resumed ? [] : start.lastEvents.map((last) => last?.payload), [2], 'the last event stays')
})

t.test('without an age limit nothing is swept', async (t) => {
  const broker = new MemoryBroker({ historySize: 100, historyTtl: 0, sweepInterval: 10 })
  t.teardown(() => broker.close())
  await broker.publish([event('a', 1)])
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(broker.retainedCount, 1)
})

const names = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `c${from + i}`)
const publishEach = (broker: MemoryBroker, channelNames: string[]) =>
  broker.publish(channelNames.map((name, i) => event(name, i)))

t.test('past maxRetainedChannels the least recently published channel without subscribers is forgotten', async (t) => {
  const subscribed = new Set(['c1'])
  const broker = new MemoryBroker({ historySize: 10, historyTtl: 0, maxRetainedChannels: 3 })
  broker.onDeliver(() => {}, { here: (name) => subscribed.has(name) })
  t.teardown(() => broker.close())
  await publishEach(broker, names(1, 4))
  t.equal(broker.retainedChannels, 3)
  t.equal(await broker.lastEvent('c2'), undefined, 'c1 has a subscriber: c2 goes first')
  t.ok(await broker.lastEvent('c1'))
  await publishEach(broker, ['c3'])
  await publishEach(broker, ['c5'])
  t.equal(await broker.lastEvent('c4'), undefined, 'publishing to c3 kept it: c4 was the oldest')
  for (const name of ['c1', 'c3', 'c5']) t.ok(await broker.lastEvent(name), `${name} kept`)
  const start = await broker.startPoint(['c4'], undefined)
  t.same(start.resumed ? [] : start.lastEvents, [undefined], 'a forgotten channel has no last event')
})

t.test('a channel with subscribers is kept even past the limit', async (t) => {
  const broker = new MemoryBroker({ historySize: 10, historyTtl: 0, maxRetainedChannels: 2 })
  broker.onDeliver(() => {}, { here: () => true })
  t.teardown(() => broker.close())
  await publishEach(broker, names(1, 5))
  t.equal(broker.retainedChannels, 5)
  for (const name of names(1, 5)) t.ok(await broker.lastEvent(name))
})

t.test('a flood of distinct channel names keeps at most maxRetainedChannels', async (t) => {
  const broker = new MemoryBroker({ historySize: 1000, historyTtl: 0, maxRetainedChannels: 5000 })
  broker.onDeliver(() => {}, { here: (name) => name === 'c7' })
  t.teardown(() => broker.close())
  for (let from = 1; from <= 20_000; from += 1000) {
    await publishEach(broker, names(from, from + 999))
    t.equal(broker.retainedChannels, Math.min(5000, from + 999))
  }
  t.equal(broker.retainedChannels, 5000)
  t.ok(await broker.lastEvent('c7'), 'the subscribed channel survived the flood')
  t.equal(await broker.lastEvent('c15000'), undefined)
  t.ok(await broker.lastEvent('c15002'))
  t.equal(broker.retainedCount, 5000, 'one event in each history')
})

t.test('an expired history is freed; the last event and the resume refusal stay', async (t) => {
  const broker = new MemoryBroker({ historySize: 100, historyTtl: 30, sweepInterval: 10 })
  broker.onDeliver(() => {}, { here: () => false })
  t.teardown(() => broker.close())
  const [first, second] = await publishEach(broker, ['q', 'q'])
  const state = (broker as unknown as { channels: { get (name: string): { history: unknown, evictedThrough: number } } }).channels.get('q')!
  t.ok(state.history)
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(state.history, undefined, 'no history object left')
  t.equal(state.evictedThrough, second.seq)
  t.equal((await broker.startPoint(['q'], first.id)).resumed, false)
  t.equal((await broker.startPoint(['q'], second.id)).resumed, true, 'nothing after the newest one: nothing missed')
  t.same((await broker.lastEvent('q'))?.payload, 1)
  const [third] = await publishEach(broker, ['q'])
  t.equal((await broker.startPoint(['q'], first.id)).resumed, false, 'a new history remembers what the old one let go')
  const start = await broker.startPoint(['q'], second.id)
  t.same(start.resumed ? start.missed.map((e) => e.seq) : [], [third.seq])
})

t.test('historySize 0 keeps no history, only the last event', async (t) => {
  const broker = new MemoryBroker({ historySize: 0, historyTtl: 0 })
  broker.onDeliver(() => {}, { here: () => false })
  t.teardown(() => broker.close())
  const [first, second] = await publishEach(broker, ['q', 'q'])
  t.equal(broker.retainedCount, 0)
  t.equal((await broker.startPoint(['q'], first.id)).resumed, false)
  t.equal((await broker.startPoint(['q'], second.id)).resumed, true)
})

t.test('the broker contract', async (t) => {
  brokerContract(t, async (t, { historySize, maxRetainedChannels }) => {
    const broker = new MemoryBroker({ historySize, historyTtl: 0, maxRetainedChannels })
    const delivered: PublishedEvent[] = []
    broker.onDeliver((events) => delivered.push(...events), { here: () => false })
    t.teardown(() => broker.close())
    return { broker, delivered }
  })
})
