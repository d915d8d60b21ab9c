import t from 'tap'
import type { PublishedEvent } from '../../../lib/broker/broker.js'
import { IdempotencyKeys } from '../../../lib/broker/idempotency-keys.js'
import { MemoryBroker } from '../../../lib/broker/memory-broker.js'
import type { TestContext } from '../../helper.js'

/** A memory broker, and a publish of `count` events on it, counted. */
function broker (t: TestContext): { publish: (count?: number) => () => Promise<PublishedEvent[]>, published: () => number } {
  const memory = new MemoryBroker({ historySize: 10, historyTtl: 0 })
  t.teardown(() => memory.close())
  let published = 0
  return {
    publish: (count = 1) => async () => {
      const events = await memory.publish(Array.from({ length: count }, (_, i) => ({ channelName: 'c', type: 't', payload: i })))
      published += events.length
      return events
    },
    published: () => published
  }
}

t.test('a key kept with the same digest answers the first ids and publishes nothing; with another, reused', async (t) => {
  const keys = new IdempotencyKeys(60_000, 100)
  const { publish, published } = broker(t)
  const first = await keys.publishOnce('k', 'd1', publish(3))
  t.equal(first.outcome, 'published')
  const ids = first.outcome === 'published' ? first.events.map((event) => event.id) : []
  t.same(await keys.publishOnce('k', 'd1', publish(3)), { outcome: 'replayed', ids }, 'the ids rebuilt from the first and the count')
  t.same(await keys.publishOnce('k', 'd2', publish(1)), { outcome: 'reused' })
  t.equal((await keys.publishOnce('other', 'd1', publish(1))).outcome, 'published', 'another key is another publish')
  t.equal(published(), 4)
})

t.test('duplicates that come while the first publish runs wait for it and get its ids', async (t) => {
  const keys = new IdempotencyKeys(60_000, 100)
  let release: (events: PublishedEvent[]) => void = () => {}
  let calls = 0
  const slow = async (): Promise<PublishedEvent[]> => {
    calls++
    return await new Promise((resolve) => { release = resolve })
  }
  const all = Promise.all(Array.from({ length: 50 }, () => keys.publishOnce('k', 'd', slow)))
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(calls, 1, 'one publish runs')
  const events = [{ id: 'e-7', seq: 7 }, { id: 'e-8', seq: 8 }] as PublishedEvent[]
  release(events)
  const outcomes = await all
  t.equal(outcomes.filter((outcome) => outcome.outcome === 'published').length, 1)
  t.same(outcomes.slice(1), Array.from({ length: 49 }, () => ({ outcome: 'replayed', ids: ['e-7', 'e-8'] })))
})

t.test('a publish that fails keeps no key: its duplicates get its error, a retry publishes', async (t) => {
  const keys = new IdempotencyKeys(60_000, 100)
  const { publish, published } = broker(t)
  let fail: (err: Error) => void = () => {}
  const failing = (): Promise<PublishedEvent[]> => new Promise((_resolve, reject) => { fail = reject })
  const first = keys.publishOnce('k', 'd', failing)
  const duplicate = keys.publishOnce('k', 'd', publish())
  await new Promise((resolve) => setImmediate(resolve))
  fail(new Error('down'))
  await t.rejects(first, { message: 'down' })
  await t.rejects(duplicate, { message: 'down' }, 'the duplicate waited for the same publish')
  t.equal(keys.size, 0)
  t.equal((await keys.publishOnce('k', 'd', publish())).outcome, 'published', 'the retry publishes')
  t.equal(published(), 1)
})

t.test('a key is forgotten when its window ends', async (t) => {
  const keys = new IdempotencyKeys(40, 100)
  const { publish } = broker(t)
  const started = Date.now()
  await keys.publishOnce('k', 'd', publish())
  let outcome = await keys.publishOnce('k', 'd', publish())
  t.equal(outcome.outcome, 'replayed')
  while (outcome.outcome === 'replayed') outcome = await keys.publishOnce('k', 'd', publish())
  t.ok(Date.now() - started >= 40, `published again after ${Date.now() - started} ms`)
  t.equal(keys.size, 1, 'the expired key made room for the new one')
})

t.test('a flood of distinct keys holds at most maxKeys: the oldest go first', async (t) => {
  const keys = new IdempotencyKeys(60_000, 100)
  const { publish } = broker(t)
  for (let i = 0; i < 20_000; i++) await keys.publishOnce(`key-${i}`, 'd', publish(10))
  t.equal(keys.size, 100)
  t.equal((await keys.publishOnce('key-19999', 'd', publish())).outcome, 'replayed', 'the newest are kept')
  t.equal((await keys.publishOnce('key-0', 'd', publish())).outcome, 'published', 'the oldest was forgotten')
})

t.test('ids that do not follow each other are kept as a list, which counts as many keys as it holds ids', async (t) => {
  const keys = new IdempotencyKeys(60_000, 10)
  const own = (...ids: string[]) => async () => ids.map((id) => ({ id }) as PublishedEvent)
  await keys.publishOnce('a', 'd', own('x', 'y', 'z'))
  t.same(await keys.publishOnce('a', 'd', own()), { outcome: 'replayed', ids: ['x', 'y', 'z'] })
  await keys.publishOnce('b', 'd', own('p-1', 'p-3'))
  t.same(await keys.publishOnce('b', 'd', own()), { outcome: 'replayed', ids: ['p-1', 'p-3'] })
  await keys.publishOnce('c', 'd', own('1', '2', '3', '4', '5', '6'))
  t.equal(keys.size, 2, 'a (3) + b (2) + c (6) is more than 10: a went')
})
