import t from 'tap'
import { RedisBroker } from '../lib/broker/redis-broker.js'
import { build, data, type TestContext, type TestHub } from './helper.js'
import { redisClient, redisPrefix } from './redis.js'

/** A hub node on the test Redis under `prefix`, through the plugin's `broker` option. */
function clusterNode (t: TestContext, prefix: string): Promise<TestHub> {
  return build(t, { broker: new RedisBroker({ redis: redisClient(t), prefix, historySize: 1000, historyTtl: 0 }) })
}

t.test('two nodes on one Redis: a publish on one reaches the subscribers of both, and a client resumes on the other', async (t) => {
  const prefix = redisPrefix(t)
  const a = await clusterNode(t, prefix)
  const b = await clusterNode(t, prefix)
  const onA = await a.subscribe('/subscribe?channels=orders')
  const onB = await b.subscribe('/subscribe?channels=orders')
  await Promise.all([onA.waitForCount(2), onB.waitForCount(2)])

  const reply = await a.publish({ events: [1, 2, 3].map((n) => ({ channelName: 'orders', type: 'created', payload: { n } })) })
  t.equal(reply.statusCode, 200)
  const ids: string[] = reply.json.ids
  for (const client of [onA, onB]) {
    await client.waitForCount(5)
    t.same(client.ofType('created').map((message) => [message.id, data(message).payload.n]), ids.map((id, i) => [id, i + 1]))
  }

  // A client of node a that saw the first event comes back on node b.
  const resumed = await b.subscribe('/subscribe?channels=orders', { headers: { 'last-event-id': ids[0] } })
  await resumed.waitForCount(3)
  t.equal(JSON.parse(data(resumed.messages[0]).payload).resumed, true)
  t.same(resumed.messages.slice(1).map((message) => message.id), ids.slice(1), 'exactly what it missed')
  t.equal((await b.app.inject('/lastEvent?channel=orders')).json().response, '{"type":"created","payload":{"n":3}}')
})
