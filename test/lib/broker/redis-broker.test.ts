import t from 'tap'
import type { PublishedEvent } from '../../../lib/broker/broker.js'
import { RedisBroker } from '../../../lib/broker/redis-broker.js'
import { brokerContract } from '../../contracts/broker.js'
import { type TestContext, waitUntil } from '../../helper.js'
import { deleteKeys, redisClient, redisPrefix } from '../../redis.js'

/** One node's broker on the test Redis, started, with what it delivers. */
async function node (t: TestContext, prefix: string, historySize = 100): Promise<{ broker: RedisBroker, delivered: PublishedEvent[] }> {
  const broker = new RedisBroker({ redis: redisClient(t), prefix, historySize, historyTtl: 0 })
  const delivered: PublishedEvent[] = []
  broker.onDeliver((events) => delivered.push(...events), () => false)
  t.teardown(() => broker.close())
  await broker.ready()
  return { broker, delivered }
}

t.test('the broker contract', async (t) => {
  brokerContract(t, async (t, { historySize }) => node(t, redisPrefix(t), historySize))
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
  t.equal((await b.broker.startPoint(['x'], before.id)).resumed, false, 'an id from before is unknown')
  await waitUntil(() => b.delivered.length === 2, 5000, 'node b to deliver the new epoch\'s event')
  t.equal(b.delivered[1].id, after.id)
})
