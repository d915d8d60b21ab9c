import Fastify from 'fastify'
import t from 'tap'
import sseHub, { type DeliveredEvent } from '../index.js'
import { build, waitUntil } from './helper.js'

t.test('hub.on: join on a first connection, leave on the last, publish with the batch', async (t) => {
  const hub = await build(t)
  const seen: Array<[string, unknown]> = []
  hub.app.hub.on('join', ({ clientId, channels }) => { seen.push(['join', { clientId, channels }]) })
  hub.app.hub.on('leave', ({ clientId }) => { seen.push(['leave', clientId]) })
  const batches: Array<readonly DeliveredEvent[]> = []
  hub.app.hub.on('publish', (events) => { batches.push(events) })

  const tab1 = await hub.subscribe('/subscribe?channels=a,b&clientId=ann')
  const tab2 = await hub.subscribe('/subscribe?channels=c&clientId=ann')
  await Promise.all([tab1.waitForCount(3), tab2.waitForCount(2)])
  t.same(seen, [['join', { clientId: 'ann', channels: ['a', 'b'] }]], 'one join for two connections')
  tab1.close()
  await waitUntil(async () => (await hub.app.hub.client('ann'))?.connections === 1, 5000, 'one tab closed')
  t.equal(seen.length, 1, 'no leave while a connection is open')
  tab2.close()
  await waitUntil(() => seen.length === 2, 5000, 'the leave')
  t.same(seen[1], ['leave', 'ann'])

  const res = await hub.publish({ events: [{ channelName: 'a', type: 'x', payload: { n: 1 } }, { channelName: 'b', type: 'y', payload: null }] })
  const direct = await hub.app.hub.publish([{ channelName: 'c', type: 'z', payload: 0 }])
  t.equal(batches.length, 2, 'one publish event per batch, whoever published it')
  t.same(batches[0].map(({ id, channelName, type, payload }) => ({ id, channelName, type, payload })), [
    { id: res.json.ids[0], channelName: 'a', type: 'x', payload: { n: 1 } },
    { id: res.json.ids[1], channelName: 'b', type: 'y', payload: null }
  ])
  t.equal(batches[1][0].id, direct.ids[0])
  t.type(batches[1][0].publishedAt, 'number')
  t.same(Object.keys(batches[1][0]).sort(), ['channelName', 'id', 'payload', 'publishedAt', 'type'], 'what the README lists, not the broker\'s seq and frame')
  // @ts-expect-error: a misspelt event name does not compile (and typecheck runs over the tests)
  hub.app.hub.on('joinn', () => {})
})

t.test('a listener that throws disturbs neither connects nor delivery', async (t) => {
  const warnings: string[] = []
  const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { warnings.push(JSON.parse(line).msg) } } } })
  t.teardown(() => app.close())
  // A configured token: the only warnings are then the listeners'.
  await app.register(sseHub, { publishToken: 'a-publish-token-for-this-test' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  app.hub.on('join', () => { throw new Error('join listener bug') })
  app.hub.on('publish', () => { throw new Error('publish listener bug') })
  const { SseClient } = await import('./sse-client.js')
  const client = await SseClient.open(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/subscribe?channels=a`)
  t.teardown(() => client.close())
  await client.waitForCount(2)
  const res = await app.inject({
    method: 'POST', url: '/publish', headers: { authorization: 'Bearer a-publish-token-for-this-test' }, payload: { events: [{ channelName: 'a', type: 't', payload: 1 }] }
  })
  t.equal(res.statusCode, 200)
  await client.waitForCount(3)
  t.same(warnings, ["a hub 'join' listener threw: join listener bug", "a hub 'publish' listener threw: publish listener bug"])
})

t.test('the listings as hub methods, with the same checks as the routes', async (t) => {
  const hub = await build(t)
  const clients = await Promise.all(['cy', 'al', 'bo'].map((id) => hub.subscribe(`/subscribe?channels=room,${id}-own&clientId=${id}`)))
  await Promise.all(clients.map((client) => client.waitForCount(3)))
  await hub.app.hub.publish([{ channelName: 'room', type: 'said', payload: 'hi' }])

  const first = await hub.app.hub.clients({ channel: 'room', limit: 2 })
  t.same(first.clients.map((c) => c.clientId), ['al', 'bo'])
  t.equal(first.total, 3)
  t.same((await hub.app.hub.clients({ channel: 'room', limit: 2, cursor: first.nextCursor })).clients.map((c) => c.clientId), ['cy'])
  t.match(await hub.app.hub.client('bo'), { clientId: 'bo', connections: 1, channels: ['room', 'bo-own'] })
  t.equal(await hub.app.hub.client('nobody'), undefined)
  const channels = await hub.app.hub.channels()
  t.same(channels.channels.map((c) => c.name), ['al-own', 'bo-own', 'cy-own', 'room'])
  t.match(await hub.app.hub.channel('room'), { name: 'room', subscribers: 3, clients: 3, lastEvent: { type: 'said', payload: 'hi' } })

  await t.rejects(hub.app.hub.clients({ limit: 0 }), { statusCode: 400, code: 'SSE_HUB_BAD_LIMIT' })
  await t.rejects(hub.app.hub.clients({ channel: 'bad name' }), { statusCode: 400, message: /^channel: "bad name"/ })
  await t.rejects(hub.app.hub.channels({ cursor: 'x!' }), { statusCode: 400, code: 'SSE_HUB_BAD_CURSOR' })
  await t.rejects(hub.app.hub.channel('bad name'), { statusCode: 400, message: /^name: "bad name"/ })
  await t.rejects(hub.app.hub.client('bad id'), { statusCode: 400, message: /^clientId: "bad id"/ })
})
