import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import t from 'tap'
import { RedisBroker } from '../lib/broker/redis-broker.js'
import { RedisClientRegistry } from '../lib/registry/redis-registry.js'
import { REDIS_OPTIONS } from '../lib/redis/connection.js'
import { build, data, spawnHub, startHub, type TestHub, waitUntil } from './helper.js'
import { scrape } from './metrics.js'
import { ownRedis, REDIS_URL, redisPrefix, redisProxy } from './redis.js'

async function health (hub: TestHub): Promise<string> {
  return (await hub.app.inject('/health')).json().status
}

async function publishOne (hub: TestHub, payload: unknown): Promise<{ statusCode: number, json: any, took: number }> {
  const started = Date.now()
  const reply = await hub.publish({ events: [{ channelName: 'x', type: 't', payload }] })
  return { ...reply, took: Date.now() - started }
}

t.test('one node loses Redis: publishes fail fast with 503, health and subscribes say broker-down, its streams stay open and get what the others stored meanwhile', async (t) => {
  const prefix = redisPrefix(t)
  const proxy = await redisProxy(t)
  const a = await build(t, { redisUrl: `redis://127.0.0.1:${proxy.port}`, redisPrefix: prefix, heartbeatInterval: 500 })
  const b = await build(t, { redisUrl: REDIS_URL, redisPrefix: prefix })
  const stream = await a.subscribe('/subscribe?channels=x')
  await stream.waitForCount(2)
  t.equal((await publishOne(b, 0)).statusCode, 200)
  await stream.waitForCount(3)

  await proxy.cut()
  await waitUntil(async () => await health(a) === 'broker-down', 3000, 'node a to report broker-down')
  t.equal((await scrape(a.app)).get('sse_hub_broker_up'), 0, 'the metrics say the broker is down on node a')
  t.equal((await scrape(b.app)).get('sse_hub_broker_up'), 1, 'and up on node b')
  const failed = await publishOne(a, 'lost')
  t.equal(failed.statusCode, 503, 'a publish on the cut node is a 503')
  t.match(failed.json, { statusCode: 503, code: 'SSE_HUB_BROKER_DOWN' })
  t.ok(failed.took < 2000, `answered in ${failed.took} ms`)
  const refused = await a.subscribe('/subscribe?channels=x')
  t.equal(refused.headers['x-sse-hub-refused'], 'broker-down', 'a new subscribe is sent elsewhere')
  const listing = await a.app.inject('/clients')
  t.equal(listing.statusCode, 503, 'presence reads on the cut node are a 503')
  t.match(listing.json(), { code: 'SSE_HUB_BROKER_DOWN', message: /presence: Redis did not answer/ })
  t.equal((await b.app.inject('/clients')).json().total, 1, 'a short outage: the other nodes still list its client')
  const meanwhile = []
  for (let i = 1; i <= 3; i++) meanwhile.push((await publishOne(b, i)).json.ids[0])
  await new Promise((resolve) => setTimeout(resolve, 1200))
  t.notOk(stream.ended, 'the open stream stays open')
  t.ok(stream.comments.includes('heartbeat'), 'with heartbeats')

  await proxy.restore()
  await waitUntil(async () => await health(a) === 'ok', 8000, 'node a to recover')
  t.equal((await scrape(a.app)).get('sse_hub_broker_up'), 1, 'up again')
  await stream.waitForCount(6, 5000)
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.same(stream.ofType('t').slice(1).map((message) => message.id), meanwhile, 'every event stored meanwhile, once, in order')
  t.same(stream.ofType('t').map((message) => data(message).payload), [0, 1, 2, 3], 'and not the refused one')
})

t.test('Redis restarts empty: the node recovers by itself and its open streams go on, in a new epoch where ids from before do not resume', async (t) => {
  const redis = await ownRedis(t)
  const hub = await build(t, { redisUrl: `redis://127.0.0.1:${redis.port}`, redisPrefix: 'outage:', presenceTtl: 1500 })
  const stream = await hub.subscribe('/subscribe?channels=x')
  await stream.waitForCount(2)
  const before = await publishOne(hub, 'before')
  t.equal(before.statusCode, 200)
  await stream.waitForCount(3)

  // A Redis that hangs: its connections stay open, its answers do not come.
  redis.signal('SIGSTOP')
  const hung = await publishOne(hub, 'hung')
  t.equal(hung.statusCode, 503, 'a publish to a hung Redis is a 503')
  t.ok(hung.took < 2000, `answered in ${hung.took} ms`)
  t.equal(await health(hub), 'broker-down')
  redis.signal('SIGCONT')
  await waitUntil(async () => await health(hub) === 'ok', 5000, 'health once Redis answers again')

  await redis.stop()
  await waitUntil(async () => await health(hub) === 'broker-down', 3000, 'broker-down')
  const failed = await publishOne(hub, 'during')
  t.equal(failed.statusCode, 503)
  t.ok(failed.took < 2000, `answered in ${failed.took} ms`)

  await redis.start()
  await waitUntil(async () => await health(hub) === 'ok', 8000, 'the node to recover')
  // The publish to the hung Redis timed out on this side but Redis ran it when it resumed: a 503
  // promises no 200, not that nothing was stored.
  const oldId = stream.lastEventId as string
  const after = []
  for (const payload of ['after', 'after-2']) {
    const reply = await publishOne(hub, payload)
    t.equal(reply.statusCode, 200)
    after.push(reply.json.ids[0])
  }
  t.not(after[0].split('-')[0], before.json.ids[0].split('-')[0], 'a new epoch')
  await stream.waitFor((client) => client.ofType('t').some((message) => data(message).payload === 'after-2'), 5000, 'the new epoch\'s events on the open stream')
  t.notOk(stream.ended, 'the open stream stays open')
  t.same(stream.ofType('t').map((message) => data(message).payload).filter((payload) => payload !== 'hung'), ['before', 'after', 'after-2'], 'it goes on with what was published after the restart')
  t.same(stream.ofType('t').slice(-2).map((message) => message.id), after)

  const again = await hub.subscribe('/subscribe?channels=x', { headers: { 'last-event-id': oldId } })
  await again.waitForCount(4)
  t.equal(JSON.parse(data(again.messages[0]).payload).resumed, false, 'an id from before Redis lost its data does not resume')
  t.same(JSON.parse(data(again.messages[1]).payload), { type: 't', payload: 'after-2' }, 'the snapshot')
  t.same(again.messages.slice(2).map((message) => message.id), after, 'then every event of the new epoch, from history')
  await waitUntil(async () => (await hub.app.inject('/clients')).json().total === 2, 8000, 'the clients listed again')
})

t.test('Redis restarts empty under two nodes: a stream on one gets what the other publishes after the restart', async (t) => {
  const redis = await ownRedis(t)
  const url = `redis://127.0.0.1:${redis.port}`
  const a = await build(t, { redisUrl: url, redisPrefix: 'two:' })
  const b = await build(t, { redisUrl: url, redisPrefix: 'two:' })
  const stream = await a.subscribe('/subscribe?channels=x')
  await stream.waitForCount(2)
  t.equal((await publishOne(b, 'before')).statusCode, 200)
  await stream.waitForCount(3)
  await redis.stop()
  await waitUntil(async () => await health(a) === 'broker-down' && await health(b) === 'broker-down', 3000, 'broker-down on both')
  await redis.start()
  await waitUntil(async () => await health(b) === 'ok', 8000, 'node b to recover')
  const after = await publishOne(b, 'after')
  t.equal(after.statusCode, 200, 'published on node b, maybe before node a saw the new epoch')
  await stream.waitFor((client) => client.ofType('t').some((message) => data(message).payload === 'after'), 8000, 'node b\'s event on node a\'s stream')
  t.notOk(stream.ended)
  t.same(stream.ofType('t').map((message) => data(message).payload), ['before', 'after'])
})

t.test('Redis restarts with its data (AOF, every write synced): a new epoch all the same, so a Redis that came back with less could never reuse an id; open streams go on', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sse-hub-aof-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const redis = await ownRedis(t, ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir])
  const hub = await build(t, { redisUrl: `redis://127.0.0.1:${redis.port}`, redisPrefix: 'aof:' })
  const stream = await hub.subscribe('/subscribe?channels=x')
  await stream.waitForCount(2)
  const before = []
  for (let i = 0; i < 3; i++) before.push((await publishOne(hub, i)).json.ids[0])
  await stream.waitForCount(5)

  redis.signal('SIGKILL')
  await waitUntil(async () => await health(hub) === 'broker-down', 3000, 'broker-down')
  await redis.start()
  await waitUntil(async () => await health(hub) === 'ok', 8000, 'the node to recover')
  t.same((await hub.app.inject('/lastEvent?channel=x')).json().response, '{"type":"t","payload":2}', 'the data came back')
  const after = await publishOne(hub, 'after')
  t.equal(after.statusCode, 200)
  t.not(after.json.ids[0].split('-')[0], before[0].split('-')[0], 'in a new epoch')
  t.notOk(before.includes(after.json.ids[0]), 'no id given twice')
  await stream.waitForCount(6, 5000)
  t.notOk(stream.ended, 'the open stream stays open')
  t.same(stream.ofType('t').map((message) => message.id), [...before, after.json.ids[0]], 'and gets the new epoch\'s event, once')
  const again = await hub.subscribe('/subscribe?channels=x', { headers: { 'last-event-id': before[2] } })
  await again.waitForCount(3)
  t.equal(JSON.parse(data(again.messages[0]).payload).resumed, false, 'a position from before the restart is unknown: the client gets the snapshots')
  t.same(JSON.parse(data(again.messages[1]).payload), { type: 't', payload: 'after' })
  t.same(again.messages.slice(2).map((message) => message.id), [after.json.ids[0]], 'then the new epoch\'s events, and none of the old one')
})

t.test('a node that fell further behind than the delivery backlog ends its streams; their clients resume from history without a hole', async (t) => {
  const prefix = redisPrefix(t)
  const proxy = await redisProxy(t)
  const node = async (url: string): Promise<TestHub> => {
    const redis = new Redis(url, REDIS_OPTIONS)
    t.teardown(() => { redis.disconnect() })
    return build(t, { broker: new RedisBroker({ redis, prefix, historySize: 100, historyTtl: 0, deliveryBacklog: 3 }), registry: new RedisClientRegistry({ redis, prefix, presenceTtl: 15_000 }) })
  }
  const a = await node(`redis://127.0.0.1:${proxy.port}`)
  const b = await node(REDIS_URL)
  const stream = await a.subscribe('/subscribe?channels=x')
  await stream.waitForCount(2)
  const [first] = (await publishOne(b, 0)).json.ids
  await stream.waitForCount(3)

  await proxy.cut()
  await waitUntil(async () => await health(a) === 'broker-down', 3000, 'node a to lose Redis')
  const meanwhile: string[] = []
  for (let i = 1; i <= 10; i++) meanwhile.push((await publishOne(b, i)).json.ids[0])
  await proxy.restore()
  await stream.waitForEnd(8000)
  t.same(stream.ofType('t').map((message) => message.id), [first], 'no event after the gap was written to the old stream')

  const resumed = await a.subscribe('/subscribe?channels=x', { headers: { 'last-event-id': stream.lastEventId! } })
  await resumed.waitForCount(11, 5000)
  t.equal(JSON.parse(data(resumed.messages[0]).payload).resumed, true)
  t.same(resumed.ofType('t').map((message) => message.id), meanwhile, 'every event it missed, from history')
})

t.test('the server logs an outage once when Redis goes and once when it is back, not each reconnection', async (t) => {
  const redis = await ownRedis(t)
  const hub = await startHub(t, [], spawnHub(['--port', '0', '--host', '127.0.0.1', '--insecure'], { REDIS_URL: `redis://127.0.0.1:${redis.port}` }))
  await redis.stop()
  await new Promise((resolve) => setTimeout(resolve, 2500))
  await redis.start()
  await waitUntil(() => hub.log().includes('Redis reachable again'), 8000, 'the line saying Redis is back')
  t.equal(hub.log().split('Redis unreachable').length - 1, 1, 'one line for the outage')
  t.notMatch(hub.log(), /Unhandled error event/, 'no line per reconnection attempt')
})
