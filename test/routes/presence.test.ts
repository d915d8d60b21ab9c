import { connect } from 'node:net'
import Fastify from 'fastify'
import t from 'tap'
import sseHub from '../../app.js'
import { MemoryClientRegistry } from '../../lib/registry/registry.js'
import { build, data, rawSubscriber, waitUntil } from '../helper.js'
import { SseClient } from '../sse-client.js'

/** The presence events of a watcher after its snapshot, as [event, data]. */
function changes (watcher: SseClient): Array<[string, unknown]> {
  return watcher.messages.slice(1).map((message) => [message.event, data(message)])
}

t.test('a snapshot, then join on a first connection and leave on the last', async (t) => {
  const hub = await build(t)
  const early = await hub.subscribe('/subscribe?channels=a&clientId=early')
  await early.waitForCount(2)
  const watcher = await hub.subscribe('/presence', { headers: { origin: 'https://example.test' } })
  t.equal(watcher.status, 200)
  t.equal(watcher.headers['content-type'], 'text/event-stream')
  t.equal(watcher.headers['cache-control'], 'no-cache')
  t.equal(watcher.headers['access-control-allow-origin'], '*', 'CORS survives the hijacked stream')
  await watcher.waitForCount(1)
  t.equal(watcher.messages[0].event, 'snapshot')
  t.same(data(watcher.messages[0]), { clients: [{ clientId: 'early', channels: ['a'] }] })
  t.equal(watcher.messages[0].id, undefined, 'presence frames carry no id')

  const ann = await hub.subscribe('/subscribe?channels=b,c&clientId=ann')
  await watcher.waitForCount(2)
  t.same(changes(watcher), [['join', { clientId: 'ann', channels: ['b', 'c'] }]])
  ann.close()
  await watcher.waitForCount(3)
  t.same(changes(watcher)[1], ['leave', { clientId: 'ann' }])
  t.equal(watcher.messages[2].id, undefined)
})

t.test('two connections with one clientId: one join, and the leave only after both closed', async (t) => {
  const hub = await build(t)
  const watcher = await hub.subscribe('/presence/')
  await watcher.waitForCount(1)
  t.same(data(watcher.messages[0]), { clients: [] })

  const tab1 = await hub.subscribe('/subscribe?channels=a&clientId=ann')
  const tab2 = await hub.subscribe('/subscribe?channels=b&clientId=ann')
  await Promise.all([tab1.waitForCount(2), tab2.waitForCount(2)])
  t.equal((await hub.app.hub.client('ann'))?.connections, 2)
  // A marker client: the stream is ordered, so once its join is there, anything before it is too.
  const marker = await hub.subscribe('/subscribe?channels=m&clientId=marker')
  await watcher.waitFor((w) => w.messages.some((m) => m.event === 'join' && data(m).clientId === 'marker'), 5000, 'the marker join')
  t.same(changes(watcher), [['join', { clientId: 'ann', channels: ['a'] }], ['join', { clientId: 'marker', channels: ['m'] }]], 'one join for two tabs')

  tab1.close()
  await waitUntil(async () => (await hub.app.hub.client('ann'))?.connections === 1, 5000, 'ann down to one tab')
  marker.close()
  await watcher.waitFor((w) => w.ofType('leave').length >= 1, 5000, 'the marker leave')
  t.same(changes(watcher).slice(2), [['leave', { clientId: 'marker' }]], 'no leave while a tab is open')

  tab2.close()
  await watcher.waitFor((w) => w.ofType('leave').length >= 2, 5000, 'ann leaving')
  t.same(changes(watcher).slice(3), [['leave', { clientId: 'ann' }]])
})

t.test('?channels= narrows the view: join when a client gets onto one of them, leave when on none', async (t) => {
  const hub = await build(t)
  const x = await hub.subscribe('/subscribe?channels=a,z&clientId=x')
  const y = await hub.subscribe('/subscribe?channels=b&clientId=y')
  await Promise.all([x.waitForCount(3), y.waitForCount(2)])
  const narrow = await hub.subscribe('/presence?channels=a,q')
  await narrow.waitForCount(1)
  t.same(data(narrow.messages[0]), { clients: [{ clientId: 'x', channels: ['a', 'z'] }] }, 'only clients on a or q, with all their channels')

  const bobOnB = await hub.subscribe('/subscribe?channels=b&clientId=bob')
  await bobOnB.waitForCount(2)
  const bobOnA = await hub.subscribe('/subscribe?channels=a,q&clientId=bob')
  await narrow.waitForCount(2)
  t.same(changes(narrow), [['join', { clientId: 'bob', channels: ['b', 'a', 'q'] }]], 'bob enters the view with his second connection')

  bobOnA.close()
  await narrow.waitForCount(3)
  t.same(changes(narrow)[1], ['leave', { clientId: 'bob' }], 'bob leaves the view while still connected on b')
  t.match(await hub.app.hub.client('bob'), { connections: 1, channels: ['b'] })

  bobOnB.close()
  y.close()
  await waitUntil(async () => (await hub.app.hub.client('bob')) === undefined && (await hub.app.hub.client('y')) === undefined, 5000, 'bob and y gone')
  x.close()
  await narrow.waitForCount(4)
  t.same(changes(narrow).slice(2), [['leave', { clientId: 'x' }]], 'nothing about clients outside the view')
})

t.test('abrupt disconnects are announced as leaves, and leave no ghost', async (t) => {
  const hub = await build(t)
  const { port } = hub.app.server.address() as { port: number }
  const watcher = await hub.subscribe('/presence')
  await watcher.waitForCount(1)
  const sockets = await Promise.all(['r1', 'r2', 'r3'].map((id) => rawSubscriber(port, `channels=a&clientId=${id}`)))
  t.teardown(() => { for (const socket of sockets) socket.destroy() })
  await watcher.waitForCount(4)
  sockets[0].resetAndDestroy()
  sockets[1].destroy()
  sockets[2].end()
  await watcher.waitForCount(7)
  t.same(watcher.ofType('leave').map((m) => data(m).clientId).sort(), ['r1', 'r2', 'r3'])
  t.same((await hub.app.inject('/clients')).json(), { total: 0, clients: [] })

  // A watcher that vanishes the same way is forgotten too.
  const watcherSocket = connect(port, '127.0.0.1')
  await new Promise<void>((resolve) => {
    watcherSocket.once('data', () => resolve())
    watcherSocket.write('GET /presence HTTP/1.1\r\nHost: x\r\n\r\n')
  })
  t.equal(hub.app.hub.connectionCount, 2)
  watcherSocket.resetAndDestroy()
  await waitUntil(() => hub.app.hub.connectionCount === 1, 5000, 'the raw watcher closed')
})

t.test('bad ?channels are 400s, as on /subscribe', async (t) => {
  const hub = await build(t, { maxChannelsPerSubscription: 2 })
  const cases: Array<[string, RegExp]> = [
    ['/presence?channels=', /^channels: empty channel name in ""/],
    ['/presence?channels=a,,b', /^channels: empty channel name in "a,,b"/],
    ['/presence?channels=a%20b', /^channels: "a b" is not a valid channel name/],
    ['/presence?channels=a,b,c', /^channels: 3 channels requested, at most 2 allowed/]
  ]
  for (const [url, message] of cases) {
    const res = await hub.app.inject(url)
    t.equal(res.statusCode, 400, url)
    t.match(res.json(), { statusCode: 400, error: 'Bad Request', message }, url)
  }
  t.equal(hub.app.hub.connectionCount, 0)
})

t.test('a watcher is a stream but not a client: heartbeats, maxConnections, refusals', async (t) => {
  const hub = await build(t, { maxConnections: 2, heartbeatInterval: 100, retry: 1000 })
  const watcher = await hub.subscribe('/presence')
  await watcher.waitForCount(1)
  t.same((await hub.app.inject('/clients')).json(), { total: 0, clients: [] }, 'the watcher is no client')
  t.same((await hub.app.inject('/channels')).json(), { total: 0, channels: [] })
  t.equal(hub.app.hub.connectionCount, 1)
  await watcher.waitFor((w) => w.comments.length >= 2, 3000, 'two heartbeats')
  t.ok(watcher.comments.every((comment) => comment === 'heartbeat'))

  const client = await hub.subscribe('/subscribe?channels=a&clientId=solo')
  await client.waitForCount(2)
  const refused = await hub.subscribe('/presence')
  t.equal(refused.headers['x-sse-hub-refused'], 'max-connections')
  await refused.waitForEnd()
  t.same(refused.messages, [])
  t.ok(refused.retry !== undefined && refused.retry >= 1000 && refused.retry <= 3000, `jittered retry ${refused.retry}`)

  client.close()
  await watcher.waitFor((w) => w.ofType('leave').length === 1, 5000, 'the leave')
  hub.app.hub.drain()
  const draining = await hub.subscribe('/presence')
  t.equal(draining.headers['x-sse-hub-refused'], 'draining')
  await draining.waitForEnd()
  t.equal(hub.app.hub.counters().refused['max-connections'] + hub.app.hub.counters().refused.draining, 2)
})

t.test('a watcher that does not read is disconnected at maxBufferedBytes', async (t) => {
  const maxBufferedBytes = 64 * 1024
  const registry = new MemoryClientRegistry()
  const hub = await build(t, { maxBufferedBytes, registry })
  const { port } = hub.app.server.address() as { port: number }
  // A snapshot of ~10 MB, far more than the socket buffers take: registered straight through the registry.
  const channels = Array.from({ length: 8 }, (_, i) => `${'c'.repeat(120)}-${i}`)
  for (let i = 0; i < 10000; i++) registry.add({ clientId: `client-${i}`, channelNames: channels, connectedAt: 0 })
  const stalled = connect(port, '127.0.0.1')
  stalled.pause()
  t.teardown(() => { stalled.destroy() })
  stalled.write('GET /presence HTTP/1.1\r\nHost: x\r\n\r\n')
  await waitUntil(() => hub.app.hub.counters().slowDisconnects === 1, 10000, 'the slow-watcher disconnect')
  await waitUntil(() => hub.app.hub.connectionCount === 0, 5000, 'the watcher gone')
  t.pass('disconnected, and forgotten')
})

t.test('app.close() ends presence streams promptly', async (t) => {
  const app = Fastify()
  await app.register(sseHub, { insecure: true })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const watchers = await Promise.all([SseClient.open(`${url}/presence`), SseClient.open(`${url}/presence?channels=a`)])
  await Promise.all(watchers.map((watcher) => watcher.waitForCount(1)))
  const started = Date.now()
  await app.close()
  await Promise.all(watchers.map((watcher) => watcher.waitForEnd(2000)))
  t.ok(Date.now() - started < 2000, `closed in ${Date.now() - started} ms`)
  t.equal(app.hub.connectionCount, 0)
})
