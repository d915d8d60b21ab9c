import t from 'tap'
import { build, rawConnection as rawConnectionTo, type TestContext, type TestHub, waitUntil } from './helper.js'

/** A raw connection to the hub that sends `text`. */
function rawConnection (t: TestContext, hub: TestHub, text: string): ReturnType<typeof rawConnectionTo> {
  return rawConnectionTo(t, (hub.app.server.address() as { port: number }).port, text)
}

function subscribeRequest (query: string, { method = 'GET', version = '1.1', extra = '' } = {}): string {
  return `${method} /subscribe?${query} HTTP/${version}\r\nHost: x\r\n${extra}\r\n`
}

async function clientCount (hub: TestHub): Promise<number> {
  return (await hub.app.hub.clients()).total
}

t.test('pipelined subscribes: one stream per connection, and nothing is left once it closes', async (t) => {
  const hub = await build(t, { maxConnections: 50 })
  const connections = Array.from({ length: 50 }, (_, i) => rawConnection(t, hub,
    subscribeRequest(`channels=x&clientId=first-${i}`) + subscribeRequest(`channels=x&clientId=second-${i}`)))
  await waitUntil(() => connections.every((c) => c.received().includes('event: lastEvent')), 5000, 'the first streams')
  t.equal(hub.app.hub.connectionCount, 50, 'the request behind a stream on its connection gets no stream')
  t.equal(await clientCount(hub), 50)
  t.notOk((await hub.app.hub.clients({ limit: 1000 })).clients.some((client) => client.clientId.startsWith('second-')))

  for (const { socket } of connections) socket.destroy()
  await waitUntil(() => hub.app.hub.connectionCount === 0, 5000, () => `every stream to be forgotten, ${hub.app.hub.connectionCount} left`)
  t.equal(await clientCount(hub), 0, 'no client is left in the listings')
  const next = await hub.subscribe('/subscribe?channels=x&clientId=after')
  t.equal(next.status, 200)
  t.notOk(next.headers['x-sse-hub-refused'], 'maxConnections has its slots back')
})

t.test('a quick request pipelined before a subscribe: both are answered, in order', async (t) => {
  const hub = await build(t)
  const connection = rawConnection(t, hub, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n' + subscribeRequest('channels=x&clientId=piped'))
  await waitUntil(() => connection.received().includes('event: lastEvent'), 5000, 'the stream after the health answer')
  t.match(connection.received(), /^HTTP\/1\.1 200 OK[^]*\{"status":"ok"\}HTTP\/1\.1 200 OK[^]*text\/event-stream/)
  t.equal(await clientCount(hub), 1)
  connection.socket.destroy()
  await waitUntil(() => hub.app.hub.connectionCount === 0, 5000, 'the stream to be forgotten')
})

t.test('HEAD /subscribe and HEAD /presence answer the headers and register nothing', async (t) => {
  const hub = await build(t)
  for (const path of ['/subscribe?channels=x&clientId=head', '/presence']) {
    const connection = rawConnection(t, hub, `HEAD ${path} HTTP/1.1\r\nHost: x\r\n\r\n`)
    await waitUntil(() => connection.received().includes('\r\n\r\n'), 5000, `the head of HEAD ${path}`)
    t.match(connection.received(), /^HTTP\/1\.1 200 OK\r\n[^]*content-type: text\/event-stream/i, path)
    await new Promise((resolve) => setTimeout(resolve, 100))
    t.equal(hub.app.hub.connectionCount, 0, `no stream for HEAD ${path}`)
    t.equal(await clientCount(hub), 0, `no client for HEAD ${path}`)
  }
})

t.test('HTTP/1.0 and a subscribe with a body: forgotten when the socket closes', async (t) => {
  const hub = await build(t)
  const requests = [
    subscribeRequest('channels=x&clientId=old', { version: '1.0' }),
    subscribeRequest('channels=x&clientId=body', { extra: 'Content-Type: text/plain\r\nContent-Length: 5\r\n' }) + 'hello',
    subscribeRequest('channels=x&clientId=half', { extra: 'Content-Type: text/plain\r\nContent-Length: 5\r\n' }) + 'he'
  ]
  for (const request of requests) {
    const connection = rawConnection(t, hub, request)
    await waitUntil(async () => hub.app.hub.connectionCount === 1 || connection.received().includes('HTTP/1.1 4'), 5000, 'the stream')
    connection.socket.destroy()
    await waitUntil(() => hub.app.hub.connectionCount === 0, 5000, () => `the stream of ${JSON.stringify(request)} to be forgotten`)
    t.equal(await clientCount(hub), 0)
  }
})

t.test('500 subscribes pipelined in one write: one stream, no listener piled up per request', async (t) => {
  const hub = await build(t)
  const warnings: string[] = []
  const onWarning = (warning: Error): void => { warnings.push(warning.name) }
  process.on('warning', onWarning)
  t.teardown(() => { process.removeListener('warning', onWarning) })
  const requests = Array.from({ length: 500 }, (_, i) => subscribeRequest(`channels=x&clientId=p${i}`)).join('')
  const connection = rawConnection(t, hub, requests)
  await waitUntil(() => connection.received().includes('event: lastEvent'), 5000, 'the first stream')
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(hub.app.hub.connectionCount, 1)
  t.same(warnings, [], 'no MaxListenersExceededWarning')
  connection.socket.destroy()
  await waitUntil(() => hub.app.hub.connectionCount === 0, 5000, 'the stream to be forgotten')
  t.equal(await clientCount(hub), 0)
})
