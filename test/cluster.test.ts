import t from 'tap'
import { RedisBroker } from '../lib/broker/redis-broker.js'
import { build, data, type HubProcess, spawnHub, startHub, type TestContext, type TestHub } from './helper.js'
import { REDIS_URL, redisClient, redisPrefix } from './redis.js'
import { SseClient } from './sse-client.js'

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

t.test('a node killed with SIGKILL: its client resumes on the other node and gets every acknowledged event once, in order', async (t) => {
  const prefix = redisPrefix(t)
  const env = { REDIS_URL, SSE_HUB_REDIS_PREFIX: prefix }
  const [one, two] = await Promise.all([startHub(t, [], spawnHub(['--port', '0', '--host', '127.0.0.1', '--insecure'], env)),
    startHub(t, [], spawnHub(['--port', '0', '--host', '127.0.0.1', '--insecure'], env))])
  const first = await SseClient.open(`${one.url}/subscribe?channels=k`)
  await first.waitForCount(2)

  const acknowledged: string[] = []
  const publish = async (node: HubProcess, n: number): Promise<void> => {
    try {
      const reply = await fetch(`${node.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events: [{ channelName: 'k', type: 'n', payload: n }] }) })
      if (reply.status === 200) acknowledged.push(...(await reply.json() as { ids: string[] }).ids)
    } catch {}
  }
  // Publishes to both nodes, one at a time, node one killed a third of the way.
  for (let n = 0; n < 90; n++) {
    if (n === 30) {
      await first.waitFor((client) => client.ofType('n').length === acknowledged.length, 5000, 'the events so far')
      one.child.kill('SIGKILL')
    }
    await publish(n % 2 === 0 ? one : two, n)
  }
  await first.waitForEnd(5000)
  const seen = first.ofType('n').map((message) => message.id)
  const resumed = await SseClient.open(`${two.url}/subscribe?channels=k`, { headers: { 'last-event-id': first.lastEventId! } })
  await resumed.waitFor((client) => client.ofType('n').length + seen.length >= acknowledged.length, 5000, 'every acknowledged event')
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(JSON.parse(data(resumed.messages[0]).payload).resumed, true)
  const received = [...seen, ...resumed.ofType('n').map((message) => message.id)]
  t.ok(acknowledged.length >= 60, `${acknowledged.length} publishes acknowledged`)
  t.same(received, acknowledged, 'every acknowledged event, once, in the order acknowledged')
  resumed.close()
})
