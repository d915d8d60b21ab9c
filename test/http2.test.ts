import { once } from 'node:events'
import { constants, type Http2ServerResponse, type ServerHttp2Stream } from 'node:http2'
import t from 'tap'
import { STREAMS } from '../lib/core/hub.js'
import { data, registryCount, waitUntil } from './helper.js'
import { h2Request, h2Session, h2Subscribe, secureHub } from './h2-client.js'

// The standalone hub with TLS, spoken to over HTTP/2 with node:http2's client.

const publish = (events: Array<{ channelName: string, type: string, payload: unknown }>): { events: typeof events } => ({ events })

t.test('an HTTP/2 stream: snapshots, live events, presence, resume; no Connection header', async (t) => {
  const hub = await secureHub(t)
  const session = await h2Session(t, hub.url, hub.certificate.cert)
  t.equal(session.alpnProtocol, 'h2', 'HTTP/2 by ALPN')
  const first = await publish1(hub.app, 'a', 'before')
  const client = await h2Subscribe(session, '/subscribe?channels=a,b&clientId=h2-one')
  t.equal(client.status, 200)
  t.equal(client.headers['content-type'], 'text/event-stream')
  t.equal(client.headers.connection, undefined, 'no Connection header on HTTP/2')
  await client.waitForCount(3)
  t.same(client.messages.map((message) => message.event), ['registered', 'lastEvent', 'lastEvent'])
  t.same(JSON.parse(data(client.messages[1]).payload), { type: 'n', payload: 'before' })
  t.equal(first.length, 1)

  const live = await publish1(hub.app, 'b', 'live')
  await client.waitFor((c) => c.ofType('n').length === 1, 3000, 'the live event')
  t.equal(client.ofType('n')[0].id, live[0])
  const presence = await h2Subscribe(session, '/presence')
  await presence.waitForCount(1)
  t.same(data(presence.messages[0]).clients, [{ clientId: 'h2-one', channels: ['a', 'b'] }], 'presence sees the HTTP/2 client')
  const position = client.lastEventId!
  client.close()
  await presence.waitFor((c) => c.ofType('leave').length === 1, 3000, 'the leave of the reset stream')
  t.same(JSON.parse((await h2Request(session, '/clients')).body), { total: 0, clients: [] }, 'forgotten at once')

  const missed = [...await publish1(hub.app, 'a', 'missed 1'), ...await publish1(hub.app, 'b', 'missed 2')]
  const again = await h2Subscribe(session, '/subscribe?channels=a,b&clientId=h2-one', { 'last-event-id': position })
  await again.waitForCount(3)
  t.equal(JSON.parse(data(again.messages[0]).payload).resumed, true, 'resumed')
  t.same(again.ofType('n').map((message) => message.id), missed, 'every missed event, in order, no snapshot')
  again.close()
})

t.test('many streams on one session each get every event; maxConnections counts streams', async (t) => {
  const hub = await secureHub(t, { maxConnections: 20 })
  const session = await h2Session(t, hub.url, hub.certificate.cert)
  const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => h2Subscribe(session, `/subscribe?channels=m&clientId=s${i}`)))
  await Promise.all(clients.map((client) => client.waitForCount(2)))
  t.equal(hub.app.hub[STREAMS].size, 20, 'twenty streams, one session')

  const refused = await h2Subscribe(session, '/subscribe?channels=m')
  await refused.waitForEnd()
  t.equal(refused.status, 200)
  t.equal(refused.headers['x-sse-hub-refused'], 'max-connections', 'the 21st stream is refused for now')
  t.ok(refused.retry !== undefined, 'with a retry:')
  t.same(refused.messages, [])

  const ids = await publish1(hub.app, 'm', 'to all')
  await Promise.all(clients.map((client) => client.waitFor((c) => c.ofType('n').length === 1, 3000, 'the event')))
  t.ok(clients.every((client) => client.ofType('n')[0].id === ids[0]), 'every stream got it')
  clients[0].close()
  await waitUntil(() => hub.app.hub[STREAMS].size === 19, 2000, 'the closed stream to be forgotten')
  const admitted = await h2Subscribe(session, '/subscribe?channels=m')
  await admitted.waitForCount(2)
  t.equal(admitted.headers['x-sse-hub-refused'], undefined, 'a freed place is taken')
  session.destroy()
  await waitUntil(async () => hub.app.hub[STREAMS].size === 0 && (await registryCount(hub.app.hub)).connections === 0, 3000, 'the streams of the closed session to be forgotten')
  t.pass('a closed session takes its 20 streams along')
})

t.test('the events of one turn reach an HTTP/2 stream in one write', async (t) => {
  const writes: string[] = []
  const hub = await secureHub(t, {}, undefined, (app) => {
    app.addHook('onRequest', async (request, reply) => {
      if (!request.url.startsWith('/subscribe')) return
      const stream = (reply.raw as unknown as Http2ServerResponse).stream as ServerHttp2Stream & { _write: (...args: unknown[]) => void, _writev: (...args: unknown[]) => void }
      const [write, writev] = [stream._write, stream._writev]
      stream._write = function (...args) { writes.push('write'); write.apply(this, args) }
      stream._writev = function (...args) { writes.push(`writev ${(args[0] as unknown[]).length}`); writev.apply(this, args) }
    })
  })
  const session = await h2Session(t, hub.url, hub.certificate.cert)
  const client = await h2Subscribe(session, '/subscribe?channels=c')
  await client.waitForCount(2)
  t.same(writes, ['write'], 'registered and the snapshot: one chunk, one write')
  writes.length = 0
  await hub.app.hub.publish(Array.from({ length: 10 }, (_, n) => ({ channelName: 'c', type: 'n', payload: n })))
  await client.waitFor((c) => c.ofType('n').length === 10, 3000, 'the ten events')
  t.same(writes, ['writev 10'], 'ten events, one write')
})

t.test('1000 streams opened and reset at once on one session leave no client behind, and the server answers', async (t) => {
  const hub = await secureHub(t)
  const session = await h2Session(t, hub.url, hub.certificate.cert)
  const closed = Array.from({ length: 1000 }, (_, i) => {
    const stream = session.request({ ':path': `/subscribe?channels=burst&clientId=ghost${i}` })
    stream.on('error', () => {})
    // Half reset at once, half as soon as the head arrives.
    if (i % 2 === 0) stream.close(constants.NGHTTP2_CANCEL)
    else stream.once('response', () => stream.close(constants.NGHTTP2_CANCEL))
    // Not once(): Node 24 answers the burst with ENHANCE_YOUR_CALM, an 'error' on the streams left.
    return new Promise((resolve) => stream.once('close', resolve))
  })
  await Promise.all(closed)
  await waitUntil(async () => hub.app.hub[STREAMS].size === 0 && (await registryCount(hub.app.hub)).connections === 0, 5000, 'no stream and no client left')
  t.same(await registryCount(hub.app.hub), { clients: 0, connections: 0 }, 'the registry counts nothing')
  const fresh = await h2Session(t, hub.url, hub.certificate.cert)
  const clients = await h2Request(fresh, '/clients')
  t.same(JSON.parse(clients.body), { total: 0, clients: [] }, '/clients is empty')
  t.equal((await h2Request(fresh, '/health')).status, 200, 'the server stays up')
})

t.test('a stream whose reader stopped is cut after slowClientTimeout; another stream of its session goes on', async (t) => {
  const hub = await secureHub(t, { maxBufferedBytes: 32768, slowClientTimeout: 300 })
  const session = await h2Session(t, hub.url, hub.certificate.cert)
  const [stalled, reader] = await Promise.all([h2Subscribe(session, '/subscribe?channels=big&clientId=stalled'), h2Subscribe(session, '/subscribe?channels=big&clientId=reader')])
  await Promise.all([stalled.waitForCount(2), reader.waitForCount(2)])
  stalled.stream.pause()
  const batch = Array.from({ length: 5 }, () => ({ channelName: 'big', type: 'b', payload: 'x'.repeat(1000) }))
  const started = Date.now()
  let published = 0
  while (!stalled.ended && Date.now() - started < 8000) {
    await hub.app.hub.publish(batch)
    published += batch.length
    await reader.waitFor((c) => c.ofType('b').length === published, 3000, `${published} events on the reading stream`)
  }
  t.ok(stalled.ended, `the stalled stream was cut (behind for slowClientTimeout, or past the hard ceiling) after ${Date.now() - started} ms`)
  t.equal(stalled.stream.rstCode, constants.NGHTTP2_CANCEL, 'by RST_STREAM (CANCEL)')
  t.notOk(reader.ended, 'the reading stream of the same session is open')
  t.notOk(session.destroyed || session.closed, 'and so is the session')
  t.equal(hub.app.hub.counters().slowDisconnects, 1)
  await hub.app.hub.publish([{ channelName: 'big', type: 'b', payload: 'after' }])
  await reader.waitFor((c) => c.ofType('b').length === published + 1, 3000, 'an event after the cut')
})

t.test('requestTimeout on HTTP/2: a request whose body stops is answered 408; a quiet stream is exempt', async (t) => {
  const hub = await secureHub(t, { headersTimeout: 200, requestTimeout: 200, heartbeatInterval: 1000 })
  const session = await h2Session(t, hub.url, hub.certificate.cert)
  const client = await h2Subscribe(session, '/subscribe?channels=q')
  await client.waitForCount(2)
  const trickle = session.request({ ':path': '/publish', ':method': 'POST', 'content-type': 'application/json' })
  trickle.write('{"events":')
  const [headers] = await once(trickle, 'response')
  let body = ''
  trickle.setEncoding('utf8')
  for await (const chunk of trickle) body += chunk as string
  t.equal(headers[':status'], 408)
  t.match(JSON.parse(body), { statusCode: 408, code: 'ERR_HTTP_REQUEST_TIMEOUT' })
  await client.waitFor((c) => c.comments.length >= 1, 3000, 'a heartbeat, 1 s after the last frame')
  t.notOk(client.ended, 'the stream outlived requestTimeout')
})

t.test('heartbeats on an HTTP/2 stream; HEAD /subscribe registers no client', async (t) => {
  const hub = await secureHub(t, { heartbeatInterval: 100 })
  const session = await h2Session(t, hub.url, hub.certificate.cert)
  const client = await h2Subscribe(session, '/subscribe?channels=quiet')
  await client.waitFor((c) => c.comments.length >= 2, 3000, 'two heartbeats')
  t.match(client.comments[0], /heartbeat/)
  const head = session.request({ ':path': '/subscribe?channels=quiet&clientId=head', ':method': 'HEAD' })
  head.end()
  const [headers] = await once(head, 'response')
  t.equal(headers[':status'], 200)
  t.equal(headers['content-type'], 'text/event-stream')
  t.equal(headers.connection, undefined)
  await once(head, 'close')
  t.equal((await registryCount(hub.app.hub)).connections, 1, 'only the stream counts')
})

/** Publishes one event of type `n` through the hub; resolves with its ids. */
async function publish1 (app: { hub: { publish: (events: ReturnType<typeof publish>['events']) => Promise<{ ids: string[] }> } }, channelName: string, payload: unknown): Promise<string[]> {
  return (await app.hub.publish(publish([{ channelName, type: 'n', payload }]).events)).ids
}
