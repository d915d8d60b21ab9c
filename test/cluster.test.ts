import t from 'tap'
import { RedisBroker } from '../lib/broker/redis-broker.js'
import { MemoryClientRegistry } from '../lib/registry/registry.js'
import { RedisClientRegistry } from '../lib/registry/redis-registry.js'
import { build, data, type HubProcess, spawnHub, startHub, type TestContext, type TestHub, waitUntil } from './helper.js'
import { REDIS_URL, redisClient, redisPrefix } from './redis.js'
import { SseClient } from './sse-client.js'

/** A hub node on the test Redis under `prefix`, through the plugin's `broker` and `registry` options. */
function clusterNode (t: TestContext, prefix: string): Promise<TestHub> {
  const redis = redisClient(t)
  return build(t, { broker: new RedisBroker({ redis, prefix, historySize: 1000, historyTtl: 0 }), registry: new RedisClientRegistry({ redis, prefix, presenceTtl: 15_000 }) })
}

t.test('a RedisBroker paired with a registry of one process is refused at start: it could not tell which channels have subscribers on other nodes', async (t) => {
  const broker = new RedisBroker({ redis: redisClient(t), prefix: redisPrefix(t), historySize: 10, historyTtl: 0 })
  t.teardown(() => broker.close())
  await t.rejects(build(t, { broker }), { message: /^RedisBroker needs a registry shared by the nodes \(RedisClientRegistry\): a registry of this process only \(MemoryClientRegistry\) cannot tell/ })
  await t.rejects(build(t, { broker, registry: new MemoryClientRegistry() }), { message: /RedisBroker needs a registry shared by the nodes/ }, 'given explicitly, the same')
})

t.test('a RedisBroker keeps the channels that have subscribers on another node, past maxRetainedChannels', async (t) => {
  const prefix = redisPrefix(t)
  const node = async (): Promise<TestHub> => {
    const redis = redisClient(t)
    return build(t, {
      broker: new RedisBroker({ redis, prefix, historySize: 10, historyTtl: 0, maxRetainedChannels: 2 }),
      registry: new RedisClientRegistry({ redis, prefix, presenceTtl: 15_000 })
    })
  }
  const [a, b] = [await node(), await node()]
  const watcher = await b.subscribe('/subscribe?channels=kept')
  await watcher.waitForCount(2)
  await waitUntil(async () => (await a.app.inject('/channels/kept')).json().subscribers === 1, 5000, 'node a to know of the subscriber on node b')
  for (const channelName of ['kept', 'c1', 'c2', 'c3']) t.equal((await a.publish({ events: [{ channelName, type: 't', payload: channelName }] })).statusCode, 200)
  t.equal((await a.app.inject('/lastEvent?channel=kept')).json().response, '{"type":"t","payload":"kept"}', 'the channel with a subscriber on node b is kept')
  t.equal((await a.app.inject('/lastEvent?channel=c1')).json().response, '{}', 'the oldest one without subscribers is forgotten')
})

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

t.test('presence is cluster-wide: listings, /presence, online-presence and the hub\'s events show the clients of every node', async (t) => {
  const prefix = redisPrefix(t)
  const node = (): Promise<TestHub> => build(t, { redis: redisClient(t), redisPrefix: prefix, presenceInterval: 50 })
  const [a, b] = [await node(), await node()]
  const events: string[] = []
  b.app.hub.on('join', ({ clientId, channels }) => events.push(`join ${clientId} ${channels.join(',')}`))
  b.app.hub.on('leave', ({ clientId }) => events.push(`leave ${clientId}`))
  const watcher = await b.subscribe('/presence')
  const follower = await b.subscribe('/subscribe?channels=lobby&clientId=follower&presence=1')
  await watcher.waitForCount(1)
  await follower.waitFor((client) => client.ofType('online-presence').length > 0, 5000, 'the first list')

  const tab1 = await a.subscribe('/subscribe?channels=news&clientId=ann')
  await tab1.waitForCount(2)
  await watcher.waitForCount(3)
  t.same(watcher.messages.slice(1).map((message) => [message.event, data(message)]), [
    ['join', { clientId: 'follower', channels: ['lobby'] }],
    ['join', { clientId: 'ann', channels: ['news'] }]
  ], 'node b\'s watcher sees the client of node a join')
  const list = (): string[] => JSON.parse(data(follower.ofType('online-presence').at(-1)!).payload)
  await follower.waitFor(() => list().includes('ann'), 5000, 'ann in the online list of node b')
  t.same(list().sort(), ['ann', 'follower'])

  const tab2 = await b.subscribe('/subscribe?channels=sport&clientId=ann')
  await tab2.waitForCount(2)
  await waitUntil(async () => (await b.app.inject('/clients/ann')).json().connections === 2, 5000, 'both tabs counted')
  const ann = (await b.app.inject('/clients/ann')).json()
  t.same([ann.connections, ann.channels], [2, ['news', 'sport']], 'one client with a tab on each node')
  const clients = (await a.app.inject('/clients')).json()
  t.same(clients.clients.map((client: { clientId: string }) => client.clientId), ['ann', 'follower'])
  t.equal(clients.total, 2)
  const channels = (await a.app.inject('/channels')).json()
  t.same(channels.channels.map(({ name, subscribers }: { name: string, subscribers: number }) => [name, subscribers]), [['lobby', 1], ['news', 1], ['sport', 1]])
  t.same((await a.app.inject('/channels/sport')).json().subscribers, 1, 'a channel only node b serves, asked on node a')

  tab1.close()
  tab2.close()
  await watcher.waitFor((client) => client.messages.some((message) => message.event === 'leave'), 5000, 'ann to leave')
  t.same(watcher.messages.slice(3).map((message) => [message.event, data(message)]), [['leave', { clientId: 'ann' }]], 'one leave, once both tabs closed')
  await follower.waitFor(() => !list().includes('ann'), 5000, 'ann gone from the online list')
  t.same(events, ['join follower lobby', 'join ann news', 'leave ann'], 'node b\'s hub events, for clients of either node')
})

t.test('a node killed with SIGKILL: its clients leave on the other nodes within presenceTtl', async (t) => {
  const prefix = redisPrefix(t)
  const presenceTtl = 1500
  const env = { REDIS_URL, SSE_HUB_REDIS_PREFIX: prefix, SSE_HUB_PRESENCE_TTL: String(presenceTtl) }
  const args = ['--port', '0', '--host', '127.0.0.1', '--insecure']
  const [doomed, survivor] = await Promise.all([startHub(t, [], spawnHub(args, env)), startHub(t, [], spawnHub(args, env))])
  const clients = await Promise.all(['x', 'y', 'z'].map((id) => SseClient.open(`${doomed.url}/subscribe?channels=c&clientId=${id}`)))
  t.teardown(() => { for (const client of clients) client.close() })
  await Promise.all(clients.map((client) => client.waitForCount(2)))
  const watcher = await SseClient.open(`${survivor.url}/presence`)
  t.teardown(() => { watcher.close() })
  await watcher.waitForCount(1)
  t.same(data(watcher.messages[0]).clients.map((client: { clientId: string }) => client.clientId).sort(), ['x', 'y', 'z'], 'the other node lists them')

  doomed.child.kill('SIGKILL')
  const killedAt = Date.now()
  await watcher.waitFor((client) => client.messages.filter((message) => message.event === 'leave').length === 3, presenceTtl + 3000, 'the three to leave')
  const took = Date.now() - killedAt
  t.ok(took <= presenceTtl + 300, `they left ${took} ms after the kill (presenceTtl ${presenceTtl} ms)`)
  t.same((await (await fetch(`${survivor.url}/clients`)).json()), { total: 0, clients: [] })
  // The leaves may reach the watcher before the reaping node writes its line.
  await waitUntil(() => /stopped renewing its lease/.test(survivor.log()), 2000, 'the line saying the node stopped renewing its lease')
  t.pass('the survivor logs why they left')
})
