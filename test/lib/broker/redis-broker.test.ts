import t from 'tap'
import type { PublishedEvent } from '../../../lib/broker/broker.js'
import { RedisBroker } from '../../../lib/broker/redis-broker.js'
import { RedisClientRegistry } from '../../../lib/registry/redis-registry.js'
import { redisKeys } from '../../../lib/redis/keys.js'
import { brokerContract } from '../../contracts/broker.js'
import { type TestContext, waitUntil } from '../../helper.js'
import { deleteKeys, redisClient, redisPrefix } from '../../redis.js'

/** One node's broker on the test Redis, started, with what it delivers. */
async function node (t: TestContext, prefix: string, historySize = 100, maxRetainedChannels?: number): Promise<{ broker: RedisBroker, delivered: PublishedEvent[] }> {
  const broker = new RedisBroker({ redis: redisClient(t), prefix, historySize, historyTtl: 0, maxRetainedChannels })
  const delivered: PublishedEvent[] = []
  broker.onDeliver((events) => delivered.push(...events), { here: () => false, everywhere: { redisHash: redisKeys(prefix).subscribers } })
  t.teardown(() => broker.close())
  await broker.ready()
  return { broker, delivered }
}

t.test('the broker contract', async (t) => {
  brokerContract(t, async (t, { historySize, maxRetainedChannels }) => node(t, redisPrefix(t), historySize, maxRetainedChannels))
})

t.test('two nodes: every batch published on either reaches both, once, in the same order', async (t) => {
  const prefix = redisPrefix(t)
  const a = await node(t, prefix)
  const b = await node(t, prefix)
  const publishes = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).broker.publish(
    Array.from({ length: 5 }, (_, j) => ({ channelName: `c${j % 2}`, type: 't', payload: { batch: i, j } }))))
  const acknowledged = (await Promise.all(publishes)).flat()
  await waitUntil(() => a.delivered.length >= 200 && b.delivered.length >= 200, 5000, 'every delivery')
  await new Promise((resolve) => setTimeout(resolve, 100))
  const order = (delivered: PublishedEvent[]): string[] => delivered.map((event) => event.id)
  t.equal(a.delivered.length, 200, 'no event twice on node a')
  t.same(order(a.delivered), order(b.delivered), 'the same order on both nodes')
  t.same([...order(a.delivered)].sort(), acknowledged.map((event) => event.id).sort(), 'exactly the acknowledged events')
  t.ok(a.delivered.every((event, i) => i === 0 || event.seq === a.delivered[i - 1].seq + 1), 'in seq order, without a gap')
  t.same(b.delivered.map((event) => event.frame.toString()), a.delivered.map((event) => event.frame.toString()), 'the same frames')
})

t.test('a client resumes on another node from an id the first one gave', async (t) => {
  const prefix = redisPrefix(t)
  const a = await node(t, prefix)
  const b = await node(t, prefix)
  const published = await a.broker.publish([1, 2, 3].map((n) => ({ channelName: 'news', type: 't', payload: n })))
  const start = await b.broker.startPoint(['news'], published[0].id)
  t.ok(start.resumed, 'resumed on node b')
  if (start.resumed) t.same(start.missed.map((event) => event.seq), [published[1].seq, published[2].seq])
})

t.test('after Redis lost its data, ids from before are unknown and every node delivers the new epoch', async (t) => {
  const prefix = redisPrefix(t)
  const a = await node(t, prefix)
  const b = await node(t, prefix)
  const [before] = await a.broker.publish([{ channelName: 'x', type: 't', payload: 1 }])
  await waitUntil(() => b.delivered.length === 1, 5000, 'the first delivery')
  await deleteKeys(redisClient(t), prefix)
  const [after] = await a.broker.publish([{ channelName: 'x', type: 't', payload: 2 }])
  t.not(after.id.split('-')[0], before.id.split('-')[0], 'a new epoch')
  const start = await b.broker.startPoint(['x'], before.id)
  t.equal(start.resumed, false, 'an id from before does not resume')
  t.same(start.resumed ? undefined : start.missed?.map((event) => event.frame.toString()), [after.frame.toString()], 'but gets the new epoch\'s events after the snapshots')
  t.same((await b.broker.startPoint(['x'], 'ffffffff-1')).resumed ? 'resumed' : 'not resumed', 'not resumed')
  await waitUntil(() => b.delivered.length === 2, 5000, 'node b to deliver the new epoch\'s event')
  t.equal(b.delivered[1].id, after.id)
  t.ok((b.delivered[1].era ?? 0) > (b.delivered[0].era ?? 0), 'in a later era than the events before, whatever its seq')
})

const publishEach = (broker: RedisBroker, channelNames: string[]): Promise<PublishedEvent[]> =>
  broker.publish(channelNames.map((channelName, i) => ({ channelName, type: 't', payload: i })))

t.test('past maxRetainedChannels the least recently published channel without subscribers on any node is forgotten', async (t) => {
  const prefix = redisPrefix(t)
  const { broker } = await node(t, prefix, 10, 3)
  // A subscriber of c1 on another node, as the cluster registry records it.
  const registry = new RedisClientRegistry({ redis: redisClient(t), prefix, presenceTtl: 15_000 })
  t.teardown(() => registry.close())
  await registry.ready()
  registry.add({ clientId: 'elsewhere', channelNames: ['c1'], connectedAt: 0 })
  await registry.settled()
  await publishEach(broker, ['c1', 'c2', 'c3', 'c4'])
  t.equal(await broker.lastEvent('c2'), undefined, 'c1 has a subscriber: c2 goes first')
  t.ok(await broker.lastEvent('c1'))
  const redis = redisClient(t)
  t.equal(await redis.exists(`${prefix}last:c2`, `${prefix}history:c2`), 0, 'its keys are deleted')
  await publishEach(broker, ['c3'])
  await publishEach(broker, ['c5'])
  t.equal(await broker.lastEvent('c4'), undefined, 'publishing to c3 kept it: c4 was the oldest')
  for (const name of ['c1', 'c3', 'c5']) t.ok(await broker.lastEvent(name), `${name} kept`)
  t.equal(await redis.zcard(`${prefix}channels`), 3)
})

t.test('a flood of distinct channel names keeps at most maxRetainedChannels in Redis', async (t) => {
  const prefix = redisPrefix(t)
  const { broker } = await node(t, prefix, 1000, 500)
  for (let from = 0; from < 5000; from += 250) {
    await publishEach(broker, Array.from({ length: 250 }, (_, i) => `flood-${from + i}`))
  }
  const redis = redisClient(t)
  const keys = await redis.keys(`${prefix}last:*`)
  t.equal(keys.length, 500, 'last events of 500 channels, not 5,000')
  t.equal((await redis.keys(`${prefix}history:*`)).length, 500)
  t.equal(await broker.lastEvent('flood-4499'), undefined)
  t.ok(await broker.lastEvent('flood-4500'))
})

t.test('publishOnce: the key is checked and kept in the script that publishes, per batch of one call, and honoured on every node', async (t) => {
  const prefix = redisPrefix(t)
  const a = await node(t, prefix)
  const b = await node(t, prefix)
  const batch = (payload: unknown) => [{ channelName: 'k', type: 't', payload }, { channelName: 'k', type: 't', payload: 'second' }]
  // The first call is in flight while the others wait: they go together in the next one.
  const [plain, first, again, other] = await Promise.all([
    a.broker.publish([{ channelName: 'k', type: 't', payload: 'plain' }]),
    a.broker.publishOnce(batch(1), 'key-1', 60_000),
    a.broker.publishOnce(batch(1), 'key-1', 60_000),
    a.broker.publishOnce(batch(2), 'key-1', 60_000)
  ])
  t.equal(plain.length, 1)
  t.equal(first.outcome, 'published')
  const ids = first.outcome === 'published' ? first.events.map((event) => event.id) : []
  t.same(again, { outcome: 'replayed', ids }, 'a second batch with the key in the same call publishes nothing')
  t.same(other, { outcome: 'reused' }, 'another batch with the key')
  t.same(await b.broker.publishOnce(batch(1), 'key-1', 60_000), { outcome: 'replayed', ids }, 'on another node, the same')
  t.same(await b.broker.publishOnce(batch(1), 'key-1 publisher-2', 60_000).then((outcome) => outcome.outcome), 'published', 'another publisher\'s key is another key')
  await waitUntil(() => a.delivered.length >= 5, 5000, 'the deliveries')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(a.delivered.map((event) => event.payload), ['plain', 1, 'second', 1, 'second'], 'each batch delivered once')
  const ttl = await redisClient(t).pttl(`${prefix}idem:key-1`)
  t.ok(ttl > 55_000 && ttl <= 60_000, `kept for the window (${ttl} ms left)`)
})
