import { once } from 'node:events'
import { connect } from 'node:net'
import t from 'tap'
import { build, data, type TestContext, type TestHub } from './helper.js'
import { ownRedis, REDIS_URL, redisPrefix } from './redis.js'
import type { SseClient } from './sse-client.js'

/** A reply as a publisher reads it over HTTP. */
interface Reply {
  status: number
  replayed: string | null
  json: any
}

async function post (hub: TestHub, body: string, key?: string): Promise<Reply> {
  const res = await fetch(`${hub.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'idempotency-key': key }) }, body })
  return { status: res.status, replayed: res.headers.get('idempotent-replayed'), json: await res.json() }
}

const batch = (...payloads: unknown[]): string => JSON.stringify({ events: payloads.map((payload) => ({ channelName: 'c', type: 't', payload })) })

const payloads = (client: SseClient): unknown[] => client.ofType('t').map((message) => data(message).payload)
const hasMarker = (client: SseClient): boolean => payloads(client).includes('marker')

/** What the stream got once a marker published after everything else arrived, and what history holds since `head`. */
async function delivered (hub: TestHub, stream: SseClient, head: string): Promise<{ live: unknown[], history: unknown[] }> {
  const marker = await post(hub, batch('marker'))
  if (marker.status !== 200) throw new Error(`the marker's publish answered ${marker.status}`)
  await stream.waitFor(hasMarker, 5000, 'the marker')
  const resumed = await hub.subscribe('/subscribe?channels=c', { headers: { 'last-event-id': head } })
  await resumed.waitFor(hasMarker, 5000, 'the marker from history')
  return { live: payloads(stream), history: payloads(resumed) }
}

/** Sends a publish on a raw socket and closes it without reading a byte: a client that gave up on the reply. */
async function publishAndGiveUp (hub: TestHub, body: string, key: string): Promise<void> {
  const socket = connect(hub.app.server.address() as { port: number })
  await once(socket, 'connect')
  const request = `POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nIdempotency-Key: ${key}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  await new Promise<void>((resolve, reject) => socket.write(request, (err) => { if (err == null) resolve(); else reject(err) }))
  socket.destroy()
}

async function twoNodes (t: TestContext, url = REDIS_URL): Promise<[TestHub, TestHub]> {
  const prefix = redisPrefix(t)
  return [await build(t, { redisUrl: url, redisPrefix: prefix }), await build(t, { redisUrl: url, redisPrefix: prefix })]
}

t.test('a publish whose reply is lost, retried on another node, is stored once', async (t) => {
  const [a, b] = await twoNodes(t)
  const stream = await b.subscribe('/subscribe?channels=c')
  await stream.waitForCount(2)
  const head = stream.messages[0].id as string

  // The retry comes once the first was stored: a replay, with the ids the first gave.
  await publishAndGiveUp(a, batch('first-1', 'first-2'), 'lost-1')
  await stream.waitFor((client) => payloads(client).includes('first-2'), 5000, 'the first publish on node b\'s stream')
  const retry = await post(b, batch('first-1', 'first-2'), 'lost-1')
  t.same([retry.status, retry.replayed], [200, 'true'])
  t.same(retry.json.ids, stream.ofType('t').map((message) => message.id), 'the ids of the events that were delivered')

  // The retry comes at once, racing the first: whichever reaches Redis first publishes, the other replays.
  await publishAndGiveUp(a, batch('second'), 'lost-2')
  const racing = await post(b, batch('second'), 'lost-2')
  t.equal(racing.status, 200)
  t.same(await delivered(b, stream, head), { live: ['first-1', 'first-2', 'second', 'marker'], history: ['first-1', 'first-2', 'second', 'marker'] })
  const second = stream.ofType('t').find((message) => data(message).payload === 'second')
  t.same(racing.json.ids, [second?.id], 'the retry\'s reply names the one stored event')
})

t.test('50 concurrent duplicates over two nodes publish once, and all get its ids', async (t) => {
  const [a, b] = await twoNodes(t)
  const stream = await a.subscribe('/subscribe?channels=c')
  await stream.waitForCount(2)
  const head = stream.messages[0].id as string
  const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => post(i % 2 === 0 ? a : b, batch('once'), 'burst')))
  t.same(replies.map((reply) => reply.status), replies.map(() => 200))
  t.equal(new Set(replies.map((reply) => JSON.stringify(reply.json))).size, 1, 'one reply')
  t.equal(replies.filter((reply) => reply.replayed === null).length, 1, 'one publish, 49 replays')
  t.same(await delivered(a, stream, head), { live: ['once', 'marker'], history: ['once', 'marker'] })
})

t.test('Redis stalls: publishes answered 503 are stored when it wakes, and their retries with the key are replays', async (t) => {
  const redis = await ownRedis(t)
  const [a, b] = await twoNodes(t, `redis://127.0.0.1:${redis.port}`)
  const stream = await b.subscribe('/subscribe?channels=c')
  await stream.waitForCount(2)
  const head = stream.messages[0].id as string

  redis.signal('SIGSTOP')
  const keys = Array.from({ length: 6 }, (_, i) => `stalled-${i}`)
  const failed = await Promise.all(keys.map((key) => post(a, batch(key), key)))
  t.same(failed.map((reply) => [reply.status, reply.json.code]), keys.map(() => [503, 'SSE_HUB_BROKER_DOWN']), '6 of 6 answered 503')
  redis.signal('SIGCONT')
  await stream.waitFor((client) => payloads(client).length === 6, 5000, 'the stalled publishes, run when Redis woke')

  const retries = await Promise.all(keys.map((key) => post(b, batch(key), key)))
  t.same(retries.map((reply) => [reply.status, reply.replayed]), keys.map(() => [200, 'true']), 'every retry is a replay')
  const ids = new Map(stream.ofType('t').map((message) => [data(message).payload, message.id]))
  t.same(retries.map((reply) => reply.json.ids), keys.map((key) => [ids.get(key)]), 'with the ids of the stored events')
  t.same(await delivered(b, stream, head), { live: [...keys, 'marker'], history: [...keys, 'marker'] }, 'each stored and delivered once')
})
